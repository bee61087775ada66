"""Applying the rules: precedence coalesce of statuses, then the findings of compulsory-age children."""

from __future__ import annotations

from typing import Any

import ibis

from yidan.contract.codes import STATUSES
from yidan.pipeline.classify.details import school_findings
from yidan.pipeline.classify.facts import build_facts
from yidan.pipeline.classify.rule import Rule
from yidan.pipeline.context import RunContext

_RECORD_COLS = ("student_no", "school_code", "school_county_code", "stage", "grade", "boarding", "method",
                "match_probability")


def label_of(status: Any) -> Any:
    return status.substitute(STATUSES)


def run_rules(ctx: RunContext, rules: tuple[Rule, ...]) -> None:
    facts = build_facts(ctx)
    status_rules = [r for r in rules if r.kind == "status"]
    finding_rules = [r for r in rules if r.kind == "finding"]

    parts = [r.apply(facts).mutate(priority=ibis.literal(i, type="int32")) for i, r in enumerate(status_rules)]
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p)
    first = ibis.row_number().over(group_by="person_id", order_by="priority")
    decided = ctx.put("cls_decided", union.mutate(_n=first).filter(lambda t: t._n == 0).drop("_n"))

    persons = facts.persons
    act = facts.active.select("person_id", *[ibis._[c].name(f"a_{c}") for c in _RECORD_COLS])
    lat = facts.latest.select("person_id", *[ibis._[c].name(f"l_{c}") for c in _RECORD_COLS])
    ver = facts.verification.select("person_id", verified_conclusion="conclusion")
    rev = facts.review
    j = (
        persons.left_join(decided, "person_id").drop("person_id_right")
        .left_join(act, "person_id").drop("person_id_right")
        .left_join(lat, "person_id").drop("person_id_right")
        .left_join(ver, "person_id").drop("person_id_right")
        .left_join(rev, "person_id").drop("person_id_right")
    )
    use_active = j.record == "active"
    use_latest = j.record == "latest"

    def pick(col: str) -> Any:
        return ibis.cases((use_active, j[f"a_{col}"]), (use_latest, j[f"l_{col}"]), else_=ibis.null()).cast(
            j[f"a_{col}"].type()
        )

    method = pick("method")
    status_table = j.select(
        person_id=j.person_id,
        name=j.name,
        gender=j.gender,
        birth_date=j.birth_date,
        age=j.age,
        hukou_county=j.hukou_county,
        hukou_township=j.hukou_township,
        hukou_village=j.hukou_village,
        category=j.category,
        compulsory_age=j.compulsory_age,
        status=j.status,
        status_label=label_of(j.status),
        match_method=method.fill_null("none"),
        match_probability=ibis.coalesce(pick("match_probability"),
                                        (j.status == "REVIEW").ifelse(j.review_probability, ibis.null())),
        student_no=pick("student_no"),
        school_code=pick("school_code"),
        school_county=pick("school_county_code"),
        stage=pick("stage"),
        grade=pick("grade"),
        boarding=pick("boarding"),
        verified_conclusion=j.verified_conclusion,
        record=j.record,
    )
    person_status = ctx.put("person_status", status_table)

    found = decided.filter(decided.finding.notnull()).select("person_id", "finding")
    for r in finding_rules:
        found = found.union(r.apply(facts).select("person_id", "finding"))
    ctx.put("school_findings", school_findings(ctx, facts, person_status, found))
    counts = person_status.status.value_counts().execute()
    ctx.notes["statuses"] = {str(k): int(v) for k, v in zip(counts.iloc[:, 0], counts.iloc[:, 1], strict=True)}
