"""Payments reach children through identity resolution, never by name alone.

A payment row is attributed to a registry child by, in order: its ID number equal to the
child's registry ID; its student number (or "G"+ID, the usual student number) linked to the
child in `links`; the ID number the enrollment holds for a linked student (the child's
enrollment ID may differ from the registry's: a typo resolved by linkage). A payment that
reaches nobody stays unresolved and becomes a finding of its own (see findings.py).
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.pipeline.context import RunContext


def accepted_links(ctx: RunContext) -> Any:
    """One row per student_no: the registry child it is linked to (accepted links only)."""
    links = ctx.get("links")
    links = links.filter(links.decision == "accepted")
    return links.group_by("student_no").aggregate(
        person_id=links.person_id.min(),
        link_method=links.method.min(),
        link_probability=links.match_probability.max(),
    )


def resolve(ctx: RunContext, terms: Any) -> Any:
    """Every payment of an audited term, with `person_id` (null when it reaches nobody) and `via`."""
    aid = ctx.get("aid")
    aid = aid.filter(aid.term.isin(terms.term))
    persons = ctx.get("reg_persons")
    # reg_persons holds one row per person_id (persons_base): no group-by needed
    by_id = persons.select("person_id", id_hit=ibis.literal(True))
    links = accepted_links(ctx)
    by_sno = links.select(sno=links.student_no, sno_person=links.person_id, sno_method=links.link_method)
    by_gsno = links.select(gsno=links.student_no, gsno_person=links.person_id, gsno_method=links.link_method)
    enr = ctx.get("enrollment")
    enr = enr.filter(enr.id_number.notnull()).select("student_no", sid=enr.id_number)
    # joined before any distinct: only linked students count, and min / nunique ignore repeats
    # (a distinct over the whole enrollment grouped every student of every term first)
    sid = enr.inner_join(links, "student_no")
    sid = sid.group_by("sid").aggregate(
        sid_person=sid.person_id.min(), sid_n=sid.person_id.nunique(), sid_method=sid.link_method.min()
    )
    sid = sid.filter(sid.sid_n == 1).drop("sid_n")

    pay = aid.select(
        "id_number", "student_no", "programme_code", "term", "amount", "payer_county_code",
        payee_name=aid["name"] if "name" in aid.columns else ibis.null("string"),
        g_sno=ibis.literal("G").concat(aid.id_number),
        grade=_optional(aid, "grade", "string"),
        paid_on=_optional(aid, "paid_on", "date"),
        src=_source(aid),
    )
    pay = pay.left_join(by_id, pay.id_number == by_id.person_id).drop("person_id")
    pay = pay.left_join(by_sno, pay.student_no == by_sno.sno).drop("sno")
    pay = pay.left_join(by_gsno, pay.g_sno == by_gsno.gsno).drop("gsno")
    pay = pay.left_join(sid, pay.id_number == sid.sid).drop("sid")
    person = ibis.cases(
        (pay.id_hit.fill_null(False), pay.id_number),
        (pay.sno_person.notnull(), pay.sno_person),
        (pay.gsno_person.notnull(), pay.gsno_person),
        else_=pay.sid_person,
    )
    method = ibis.cases(
        (pay.id_hit.fill_null(False), ibis.literal("id")),
        (pay.sno_person.notnull(), pay.sno_method),
        (pay.gsno_person.notnull(), pay.gsno_method),
        else_=pay.sid_method,
    )
    return pay.select(
        "id_number", "student_no", "programme_code", "term", "amount", "payer_county_code",
        "payee_name", "src", "grade", "paid_on", person_id=person, via=method,
    )


def _optional(aid: Any, column: str, kind: str) -> Any:
    """An optional column of the aid table, null where the file had none."""
    return aid[column] if column in aid.columns else ibis.null(kind)


def _source(aid: Any) -> Any:
    """'file:row' of a payment, as the user finds it in the aid file (evidence)."""
    if "_file" in aid.columns and "_row" in aid.columns:
        return aid._file.fill_null("").concat(":", aid._row.cast("string"))
    return ibis.null("string")


def by_payer(resolved: Any) -> Any:
    """Resolved payments per child, programme, term and paying county."""
    r = resolved.filter(resolved.person_id.notnull())
    return r.group_by(["person_id", "term", "programme_code", "payer_county_code"]).aggregate(
        paid=r.amount.sum(),
        rows=r.count(),
        via_linkage=(r.via == "linkage").cast("int64").sum(),
        grade=r.grade.max(),
        graded_rows=r.grade.count(),
        last_paid_on=r.paid_on.max(),
    )


def unresolved(resolved: Any) -> Any:
    """Payments that reach no registry child, per payee, programme, term and paying county."""
    r = resolved.filter(resolved.person_id.isnull())
    return r.group_by(["id_number", "term", "programme_code", "payer_county_code"]).aggregate(
        student_no=r.student_no.max(),
        payee_name=r.payee_name.max(),
        paid=r.amount.sum(),
        rows=r.count(),
        sources=r.src.collect().sort().join(","),
    )
