"""Step `persons_base`: one row per registry person of school age (`reg_persons`).

Ages are whole years on the reference day (31 August of the school year's first
calendar year), computed from year, month and day — never from a year delta, which
DuckDB and Spark count differently.

The birth date ages are taken from (`birth_date`) is the registry's column, except where that
column contradicts a valid 18-digit ID: the ID's check character vouches for its digits, a typed
date has no such check, so the ID's date is used (2009-05-31 typed as 2019-05-31 would otherwise
make a dropout "too young" and drop them from the run). The row is flagged `birth_conflict`
(K08, with both dates in the finding). A legacy 15-digit ID converted to 18 digits
(`id_converted`) carries a guessed century and a computed check character: it vouches for
nothing, so there the column is kept, and a contradiction (1909 in the ID, 2009 in the column)
is flagged the same way.
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


def id_birth_date(valid: Any, id_number: Any) -> Any:
    """The date in characters 7-14 of an 18-character ID, where `valid` (null elsewhere).

    Valid IDs hold a real date (ingest checked it); the parts are read only on those rows.
    """
    y, m, d = (id_number.substr(a, n).cast("int32") for a, n in ((6, 4), (10, 2), (12, 2)))
    return ibis.ifelse(valid, ibis.date(y, m, d), ibis.null("date"))


def with_birth_dates(reg: Any) -> Any:
    """Registry rows with the birth date ages are taken from, and what it was chosen from.

    `birth_date` (the date used), `registry_birth_date` (the column as written), `id_birth_date`
    (the ID's date, valid IDs only), `id_converted` (the ID was written in the 15-digit form) and
    `birth_conflict` (the column contradicts the ID's date).
    """
    valid = reg.id_number_valid.fill_null(False)
    converted = (reg.id_number_converted.fill_null(False) if "id_number_converted" in reg.columns
                 else ibis.literal(False))
    # the ID's date and the conflict are columns of their own layer, each computed once per row (as
    # one expression the date was parsed four times over, on every registry row: measured)
    t = reg.mutate(_from_id=id_birth_date(valid, reg.id_number), _converted=converted)
    t = t.mutate(_conflict=(t.id_number_valid.fill_null(False) & t.birth_date.notnull()
                            & (t.birth_date != t._from_id)).fill_null(False))
    return t.mutate(
        birth_date=ibis.ifelse(t._conflict & ~t._converted, t._from_id, t.birth_date),
        registry_birth_date=t.birth_date,
        id_birth_date=t._from_id,
        id_converted=t._converted,
        birth_conflict=t._conflict,
    ).drop("_from_id", "_converted", "_conflict")


def reference_day(ctx: RunContext, term: Term) -> date:
    return term.age_reference(ctx.config.age_reference_month, ctx.config.age_reference_day)


def _first_rows(reg: Any, counts: Any | None = None) -> Any:
    """Each ID's first row (by file, then row number) among the rows of `reg`.

    Most IDs have a single row: those pass as they are, and only the rows of IDs with several are
    sorted by the window (a window over every wide registry row was the costliest operator of
    `reg_persons`, measured). `counts` (id_number, `_rows`: the ID's rows in `reg`) may be given
    when already computed; IDs missing from it are dropped."""
    n = counts if counts is not None else reg.group_by("id_number").aggregate(_rows=reg.count())
    j = reg.join(n.select("id_number", "_rows"), "id_number")
    one = j.filter(j._rows == 1).drop("_rows")
    many = j.filter(j._rows > 1).drop("_rows")
    first = ibis.row_number().over(group_by=many.id_number, order_by=[many._file, many._row])
    return one.union(many.mutate(_n=first).filter(lambda t: t._n == 0).drop("_n"))


def build_persons(ctx: RunContext) -> None:
    raw = ctx.get("registry")
    raw = raw.filter(raw.id_number.notnull())
    # the birth dates are a per-row function of a row's own columns: computed here only on the narrow
    # columns the person count reads, and on the wide rows only once the IDs are chosen (below)
    reg = with_birth_dates(raw.select("id_number", "id_number_valid", "birth_date",
                                      *(["id_number_converted"] if "id_number_converted" in raw.columns else [])))

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
    # (one group-by gives both which IDs can keep a person and how many rows each has)
    counts = reg.group_by("id_number").aggregate(_rows=reg.count(), _keep=keep(reg).any())
    reg_first = with_birth_dates(_first_rows(raw, counts.filter(counts._keep)))
    reg_first = reg_first.filter(keep)
    persons = _select(ctx, reg_first)
    persons = _with_household_phone(persons, raw)
    # reg_key numbers the persons in ID order: the window sorts the IDs alone, joined back (a window
    # over the whole persons table sorted every wide row)
    keys = reg_first.select(person_id=reg_first.id_number)
    keys = keys.mutate(reg_key=ibis.row_number().over(order_by=keys.person_id).cast("int64"))
    persons = persons.join(keys, "person_id")
    ctx.put("reg_persons", persons.relocate("reg_key"))
    # first rows without a birth date: only the IDs that have a row without one need the window
    # (the date used is null exactly where the registry's column is: a conflict needs a written date)
    undated = raw.filter(raw.birth_date.isnull()).select("id_number").distinct()
    first_undated = _first_rows(raw.semi_join(undated, "id_number"))
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
        id_converted=reg.id_converted,
        name=reg.name,
        gender=reg.gender,
        birth_date=reg.birth_date,
        registry_birth_date=reg.registry_birth_date,
        id_birth_date=reg.id_birth_date,
        birth_conflict=reg.birth_conflict,
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
