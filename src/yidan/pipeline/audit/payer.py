"""Who paid, and who should have: county names and the paid-by breakdown of each claim.

The responsible county itself is decided with the entitlement (entitlement.judge: the
school's county, or the household county for 户籍地 programmes and out-of-province
children); here payments are set beside it so each finding can say, in a clerk's words,
"应由 宁乡县（学籍地）发放 625.00 元；实际 浏阳市 发放 625.00 元".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import ibis

from yidan.identity.divisions import county_rows


def yuan(amount: Any) -> Any:
    """An amount as text with two decimals ('625.00'), exact (DECIMAL, never float)."""
    return amount.cast("decimal(14, 2)").cast("string")


@lru_cache(maxsize=1)
def counties() -> Any:
    """The division table as an engine lookup: county_code -> county_name (built once)."""
    rows = county_rows()
    return ibis.memtable(
        {"county_code": [c for c, _ in rows], "county_name": [n for _, n in rows]},
        schema={"county_code": "string", "county_name": "string"},
    )


def with_county_name(t: Any, column: str, label: str) -> Any:
    """Add `label`: the name of the county in `column` (the code itself when unknown)."""
    names = counties().rename({label: "county_name", f"{label}__code": "county_code"})
    j = t.left_join(names, t[column] == names[f"{label}__code"]).drop(f"{label}__code")
    return j.mutate(**{label: j[label].fill_null(j[column])})


KEYS = ["person_id", "term", "programme_code"]


def paid_claims(by_payer: Any, judged: Any) -> Any:
    """Per child, programme and term: what was paid, and how much by the wrong county (figures only;
    the words, which payer paid what, are built for the claims that become findings: payer_texts)."""
    resp = judged.select(*KEYS, "responsible")
    p = by_payer.left_join(resp, KEYS).select(~ibis.selectors.endswith("_right"))
    wrong_place = p.responsible.isnull() | (p.payer_county_code != p.responsible)
    return p.group_by(KEYS).aggregate(
        paid_total=p.paid.sum(),
        paid_rows=p.rows.sum(),
        other_paid=p.paid.sum(where=wrong_place),
        main_payer=p.payer_county_code.min(),
        wrong_payer=p.payer_county_code.min(where=wrong_place),
        via_linkage=p.via_linkage.sum(),
        paid_grade=p.grade.max(),
        # two grades named, or rows without one, leave the grade unreadable (Z06)
        ungraded_rows=p.rows.sum() - p.graded_rows.sum(),
        grade_min=p.grade.min(),
        last_paid_on=p.last_paid_on.max(),
    )


def payer_texts(by_payer: Any, keys: Any) -> Any:
    """For the claims in `keys` only: who paid what, in words and as evidence.

    Ordered string aggregation is the costly part of the audit; a few claims become findings,
    so it runs on their payments alone."""
    p = by_payer.semi_join(keys, KEYS)
    p = with_county_name(p, "payer_county_code", "payer_name")
    line = p.payer_name.concat(" 发放 ", yuan(p.paid), " 元")
    ev = p.payer_county_code.concat(":", yuan(p.paid))
    return p.group_by(KEYS).aggregate(
        # collect + sort + join: ordered string aggregation that Spark compiles too
        payers_text=line.collect().sort().join("，"),
        payers_ev=ev.collect().sort().join(";"),
    )
