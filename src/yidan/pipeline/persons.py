"""Step `persons_base`: one row per registry person of school age (`reg_persons`).

Ages are whole years on the reference day (31 August of the school year's first
calendar year), computed from year, month and day — never from a year delta, which
DuckDB and Spark count differently.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis

from yidan.identity.terms import Term
from yidan.pipeline.context import RunContext


def age_on(birth: Any, ref: date) -> Any:
    """Whole years between `birth` (an Ibis date) and the fixed day `ref`."""
    before_birthday = (birth.month() > ref.month) | ((birth.month() == ref.month) & (birth.day() > ref.day))
    return (ibis.literal(ref.year) - birth.year() - before_birthday.ifelse(1, 0)).cast("int32")


def reference_day(ctx: RunContext, term: Term) -> date:
    return term.age_reference(ctx.config.age_reference_month, ctx.config.age_reference_day)


def _first_rows(reg: Any) -> Any:
    """Each ID's first row (by file, then row number) among the rows of `reg`."""
    first = ibis.row_number().over(group_by=reg.id_number, order_by=[reg._file, reg._row])
    return reg.mutate(_n=first).filter(lambda t: t._n == 0).drop("_n")


def build_persons(ctx: RunContext) -> None:
    reg = ctx.get("registry")
    reg = reg.filter(reg.id_number.notnull())

    terms = sorted({ctx.term, *ctx.audit_terms})
    earliest, latest = reference_day(ctx, terms[0]), reference_day(ctx, terms[-1])
    sa = ctx.config.school_age

    def keep(t: Any) -> Any:
        # in school age in the run term or in any audit term: ages only grow, so the two ends suffice
        in_any_term = (age_on(t.birth_date, earliest) <= sa.max) & (age_on(t.birth_date, latest) >= sa.min)
        return t.birth_date.notnull() & in_any_term

    # one row per person: duplicates of an ID keep their first row (file, row number). Only an ID
    # with some row in school age can keep a person, so the window sorts the rows of those IDs
    # (every row of them, the first may be out of age) instead of the whole registry.
    candidates = reg.filter(keep).select("id_number").distinct()
    reg_first = _first_rows(reg.semi_join(candidates, "id_number"))
    reg_first = reg_first.filter(keep)
    persons = _select(ctx, reg_first)
    persons = _with_household_phone(persons, reg)
    persons = persons.mutate(reg_key=ibis.row_number().over(order_by=persons.person_id).cast("int64"))
    ctx.put("reg_persons", persons.relocate("reg_key"))
    # first rows without a birth date: only the IDs that have a row without one need the window
    undated = reg.filter(reg.birth_date.isnull()).select("id_number").distinct()
    first_undated = _first_rows(reg.semi_join(undated, "id_number"))
    ctx.notes["registry_without_birth_date"] = int(
        first_undated.filter(first_undated.birth_date.isnull()).count().execute()
    )


def _with_household_phone(persons: Any, reg: Any) -> Any:
    """`phone`: the person's own number, else the household's (the head's first): registries record
    a phone for the adults, and a field team calls the household, not the child."""
    with_phone = reg.filter(reg.phone.notnull() & reg.household_id.notnull())
    ranked = (with_phone.relation == "户主").ifelse("0", "1").concat(with_phone.phone)
    hh = with_phone.group_by(_hh="household_id").aggregate(_hh_phone=ranked.min().substr(1))
    j = persons.left_join(hh, persons.household_id == hh._hh).drop("_hh")
    return j.mutate(phone=j.phone.fill_null(j._hh_phone)).drop("_hh_phone")


def _select(ctx: RunContext, reg: Any) -> Any:
    """reg_persons' columns from the chosen registry rows."""
    ca, sa = ctx.config.compulsory_age, ctx.config.school_age
    age = age_on(reg.birth_date, reference_day(ctx, ctx.term))
    code = reg.hukou_code
    return reg.select(
        person_id=reg.id_number,
        id_valid=reg.id_number_valid.fill_null(False),
        name=reg.name,
        gender=reg.gender,
        birth_date=reg.birth_date,
        head_name=reg.head_name,
        relation=reg.relation,
        household_id=reg.household_id,
        hukou_code=code,
        hukou_county=code.substr(0, 6),
        hukou_township=(code.length() >= 9).ifelse(code.substr(0, 9), ibis.null().cast("string")),
        hukou_village=(code.length() >= 12).ifelse(code.substr(0, 12), ibis.null().cast("string")),
        township_name=reg.township_name,
        village_name=reg.village_name,
        category=reg.category,
        poverty_status=reg.poverty_status,
        recognized_on=reg.recognized_on,
        removed_on=reg.removed_on,
        disability=reg.disability,
        phone=reg.phone,
        age=age,
        compulsory_age=age.between(ca.min, ca.max),
        in_school_age=age.between(sa.min, sa.max),
    )
