"""The columns Splink compares and blocks on, built alike for both sides.

Registry persons and students come in with different column names; both leave
with the same schema so the model's SQL never needs to know which side it reads:
`uid`, `id`, `id_valid` (a converted 15-digit ID is not), `id_conv`, `gender`, `birth_str` (and `birth_numbers`), `county`, `city`, `name_norm`,
`name_len`, reading features (see `prepare.name_features`), the digit sums used to
recognise two swapped digits, and the ID blocking keys.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.pipeline.link.prepare import name_features

# ID blocking keys: each drops one stretch of the 18 characters, so a pair whose IDs
# differ by one wrong digit, or by two neighbours swapped, still agrees on one key.
# (start, end) pairs are 0-based half-open stretches *kept*.
ID_BLOCK_KEYS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 14),),  # county + birth date: a typo in the sequence or check character
    ((6, 18),),  # birth date + sequence: a typo in the county code
    ((0, 6), (10, 18)),  # a typo in the birth year
    ((0, 10), (14, 18)),  # a typo in month or day
    ((0, 5), (7, 18)),  # neighbours swapped across county | year
    ((0, 9), (11, 18)),  # ... across year | month
    ((0, 13), (15, 18)),  # ... across day | sequence
    ((0, 6), (8, 17)),  # the legacy 15-digit form: a converted ID's century and check character are guesses
)


def id_block_key(value: Any, stretches: tuple[tuple[int, int], ...]) -> Any:
    parts = [value.substr(a, b - a) for a, b in stretches]
    out = parts[0]
    for p in parts[1:]:
        out = out.concat(p)
    return out


def _digit_sums(value: Any) -> tuple[Any, Any]:
    """Sum and sum of squares of the 17 body digits: equal for two IDs that only swap digits."""
    digits = [value.substr(i, 1).try_cast("int64") for i in range(17)]
    return sum(digits), sum(d * d for d in digits)


def common(t: Any) -> Any:
    """Digit sums, city and ID blocking keys; apply to a *materialised* side (the ID is read 30 times)."""
    s1, s2 = _digit_sums(t.id)
    keys = {f"idk{i}": id_block_key(t.id, k) for i, k in enumerate(ID_BLOCK_KEYS, start=1)}
    return t.mutate(
        id_s1=s1,
        id_s2=s2,
        city=t.county.substr(0, 4),
        name_len=t.name_norm.length(),
        **keys,
    )


def birth_numbers(birth: Any) -> dict[str, Any]:
    """Whole numbers the birth-date levels compare (integer arithmetic per pair, no date parsing).

    `birth_days` (days since 1970-01-01), `birth_months` (year × 12 + month: December and
    the next January are adjacent), `birth_dom` (day of the month) and `birth_months15` (the
    `birth_months` of the day fifteen days later) and `birth_year`. Two dates a few days apart
    share their `birth_months` or, across the end of a month, their `birth_months15`; a date a
    month off on the same day shares year and day (but for December against January): the
    blocking rules for a child enrolled in another county without an ID use them.
    """
    later = birth + ibis.interval(days=15)
    return {
        "birth_days": birth.epoch_days().cast("int64"),
        "birth_months": (birth.year() * 12 + birth.month()).cast("int64"),
        "birth_dom": birth.day().cast("int64"),
        "birth_months15": (later.year() * 12 + later.month()).cast("int64"),
        "birth_year": birth.year().cast("int64"),
    }


def registry_side(persons: Any, normalise: Any, **extra: Any) -> Any:
    """Features of registry persons (rows of `reg_persons`); `extra` columns are kept too."""
    p = persons
    ident = ibis.ifelse(p.person_id.length() == 18, p.person_id, ibis.null("string"))
    # a converted 15-digit ID passes the check with a computed check character: no evidence that two
    # different valid IDs are two people, so linkage counts it as unverified (`id_valid` false)
    converted = p.id_converted.fill_null(False) if "id_converted" in p.columns else ibis.literal(False)
    t = p.select(
        uid=p.reg_key.cast("string"),
        id=ident,
        id_valid=ibis.ifelse(ident.isnull(), ibis.null("boolean"), p.id_valid.fill_null(False) & ~converted),
        id_conv=ibis.ifelse(ident.isnull(), ibis.null("boolean"), converted),
        gender=p.gender,
        birth_str=p.birth_date.cast("string"),
        **birth_numbers(p.birth_date),
        county=p.hukou_county,
        name_norm=normalise(p.name),
        **extra,
    )
    return t


def student_side(students: Any, normalise: Any, **extra: Any) -> Any:
    """Features of students (rows of `students`); `extra` columns are kept too."""
    s = students
    ident = ibis.ifelse(s.link_id.length() == 18, s.link_id, ibis.null("string"))
    t = s.select(
        uid=s.student_no,
        id=ident,
        id_valid=ibis.ifelse(ident.isnull(), ibis.null("boolean"), s.link_id_valid.fill_null(False)),
        id_conv=ibis.ifelse(ident.isnull(), ibis.null("boolean"), s.link_id_converted.fill_null(False)),
        gender=s.gender,
        birth_str=s.birth_date.cast("string"),
        **birth_numbers(s.birth_date),
        county=s.school_county_code,
        name_norm=normalise(s.name),
        **extra,
    )
    return t


def with_names(t: Any) -> Any:
    """`t` with the reading features of its names, built once per distinct name (names repeat)."""
    distinct = t.select("name_norm").filter(t.name_norm.notnull()).distinct()
    names = name_features(distinct.mutate(_name=distinct.name_norm), "_name")
    j = t.left_join(names, t.name_norm == names._name).drop("_name")
    none = ibis.literal(["-"], type="array<string>")
    return j.mutate(
        py0=j.py0.fill_null(none),
        py1=j.py1.fill_null(none),
        py2=j.py2.fill_null(none),
        py_rest=j.py_rest.fill_null("-"),
    )
