"""The facts the classification rules read, built once per run as engine tables.

Each rule is a small query over these few tables; building them once keeps the
rules short and keeps the engine from recomputing the same window functions
eleven times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis

from yidan.identity.terms import distinct_terms, term_ordinal_among
from yidan.pipeline.context import RunContext

ACTIVE = "在读"



@dataclass
class Facts:
    term: str
    persons: Any  # reg_persons
    records: Any  # person_id × linked enrollment records up to the run term
    active: Any  # per person: the chosen 在读 record of the run term, n_active
    latest: Any  # per person: the latest linked record
    oop: Any  # per person: the latest out-of-province record
    verification: Any  # per person: the latest verification
    review: Any  # per person without an accepted link: the best review-band candidate
    links: Any  # accepted links


def first_rows(t: Any, order: list[Any]) -> Any:
    """Each person's first row of `t` by `order` (ties: any one of them).

    Most people have a single row: those pass as they are, and only the rows of people with
    several are sorted (a window over many one-row partitions is the costly part otherwise).
    Rows without a person_id are dropped (no rule reads them)."""
    n = t.group_by("person_id").aggregate(_rows=t.count())
    j = t.join(n, "person_id")
    one = j.filter(j._rows == 1).drop("_rows")
    many = j.filter(j._rows > 1).drop("_rows")
    many = many.mutate(_n=ibis.row_number().over(group_by="person_id", order_by=order))
    return one.union(many.filter(many._n == 0).drop("_n"))


def build_facts(ctx: RunContext) -> Facts:
    term = ctx.term.label
    links = ctx.get("links")
    accepted = links.filter(links.decision == "accepted")
    enr = ctx.get("enrollment")
    labels = sorted({*distinct_terms(enr), term})  # a handful: the ordinal is a CASE over them
    enr = enr.mutate(term=enr.term.fill_null(term))
    enr = enr.mutate(t_ord=term_ordinal_among(enr.term, labels)).filter(lambda t: t.t_ord <= ctx.term.ordinal)

    rec = accepted.select("person_id", "student_no", "method", "match_probability").join(
        enr.select(
            "student_no", "school_code", "school_name", "school_county_code", "stage", "grade", "boarding",
            "enrollment_status", "attendance_mode", "status_date", "term", "t_ord", "class_id", "_file", "_row",
        ),
        "student_no",
    )
    records = ctx.put("cls_records", rec)

    order = [ibis.desc("t_ord"), ibis.desc("status_date"), "student_no", "school_code", "_file", "_row"]
    act = records.filter((records.enrollment_status == ACTIVE) & (records.term == term))
    # (a distinct count per group, joined back: Spark has no COUNT(DISTINCT) over a window)
    n_active = act.group_by("person_id").aggregate(n_active=act.student_no.nunique())
    active = ctx.put("cls_active", first_rows(act, order).join(n_active, "person_id"))

    # the latest record is among the person's records of their latest term
    last = records.group_by("person_id").aggregate(_last=records.t_ord.max())
    in_last = records.join(last, [records.person_id == last.person_id, records.t_ord == last._last])
    latest = ctx.put("cls_latest", first_rows(in_last.select(records.columns), order))

    oop = ctx.get("out_of_province")
    oop = oop.filter(oop.term.isnull() | (oop.term == term))
    oop = oop.mutate(_n=ibis.row_number().over(group_by="id_number", order_by=["_file", "_row"]))
    oop = ctx.put(
        "cls_oop",
        oop.filter(oop._n == 0).select(
            person_id="id_number", oop_province="province", oop_school="school_name", aided_there="aided_there"
        ),
    )

    ver = ctx.get("verifications")
    ver = ver.mutate(
        _n=ibis.row_number().over(group_by="id_number", order_by=[ibis.desc("verified_on"), ibis.desc("_file"),
                                                                   ibis.desc("_row")])
    )
    ver_latest = ver.filter(ver._n == 0)
    # a verification past its validity (settings.VerificationValidity) on the term's first day is
    # ignored: the child is judged without it, and its findings name it as expired
    start = ctx.term.start(ctx.config.autumn_start, ctx.config.spring_start)
    limits = ctx.config.verification_validity.valid_from(start)
    valid_from = ibis.memtable({"v_conclusion": list(limits), "v_from": list(limits.values())},
                               schema={"v_conclusion": "string", "v_from": "date"})
    ver_latest = ver_latest.left_join(valid_from, ver_latest.conclusion == valid_from.v_conclusion)
    expired = (ver_latest.verified_on < ver_latest.v_from).fill_null(False)
    keep = lambda col: expired.ifelse(ibis.null(ver_latest[col].type()), ver_latest[col])  # noqa: E731
    verification = ctx.put(
        "cls_verification",
        ver_latest.select(
            person_id="id_number", conclusion=keep("conclusion"), verified_on=keep("verified_on"),
            verified_province=keep("province"), verified_note=keep("note"),
            expired_text=expired.ifelse(
                ibis.literal("核实结论已过期（").concat(ver_latest.verified_on.cast("string"), " ", ver_latest.conclusion, "）"),
                ibis.null("string")),
        ),
    )

    rev = links.filter(links.decision == "review").anti_join(accepted, "person_id")
    rev = rev.mutate(
        _n=ibis.row_number().over(group_by="person_id", order_by=[ibis.desc("match_probability"), "student_no"])
    )
    review = ctx.put(
        "cls_review",
        rev.filter(rev._n == 0).select(
            "person_id", review_student_no="student_no", review_probability="match_probability"
        ),
    )
    return Facts(term, ctx.get("reg_persons"), records, active, latest, oop, verification, review, accepted)
