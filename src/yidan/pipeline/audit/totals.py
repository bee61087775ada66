"""Totals per county, programme and term, exact to the fen (DECIMAL sums, never float).

Which county a figure belongs to:
- entitled_n, entitled_amount, missed_amount (standard minus what reached the child, never
  below zero: 漏助 + 少发, also apart as unpaid_amount, nothing paid, and short_amount, paid
  less), over_amount (paid beyond the standard in one payment or parts, not a Z02) and
  duplicate_amount (paid beyond the standard in a Z02): the responsible county;
- paid_amount (every audited payment, resolved or not) and wrong_amount (paid where nothing was
  due: Z04, Z05 and payments that reach no registry child): the paying county.
So the province's paid_amount equals the sum of the audited aid rows, fen for fen.

The funding split of what was due (entitled_amount) follows the catalog's shares: central and
provincial shares rounded to the fen, the city/county share the remainder, so the three add up
to the entitlement exactly; a programme without shares adds nothing to the three (不划分).
"""

from __future__ import annotations

from typing import Any

import ibis

AMOUNT = "decimal(14, 2)"
SCHEMA = ibis.schema(
    {
        "county": "string", "programme_code": "string", "term": "string", "entitled_n": "int64",
        "entitled_amount": AMOUNT, "paid_amount": AMOUNT, "missed_amount": AMOUNT,
        "duplicate_amount": AMOUNT, "wrong_amount": AMOUNT,
        "entitled_central": AMOUNT, "entitled_province": AMOUNT, "entitled_local": AMOUNT,
        "unpaid_amount": AMOUNT, "short_amount": AMOUNT, "over_amount": AMOUNT,
    }
)
MONEY = ("entitled_amount", "paid_amount", "missed_amount", "duplicate_amount", "wrong_amount",
          "entitled_central", "entitled_province", "entitled_local", "unpaid_amount", "short_amount", "over_amount")


def empty() -> Any:
    return ibis.memtable(SCHEMA.to_pyarrow().empty_table())


def _part(t: Any, county: Any, **values: Any) -> Any:
    zero = ibis.literal(0).cast(AMOUNT)
    cols = {"county": county, "programme_code": t.programme_code, "term": t.term}
    cols["entitled_n"] = values.pop("entitled_n", ibis.literal(0)).cast("int64")
    for name in MONEY:
        cols[name] = values.pop(name, zero).cast(AMOUNT)
    return t.select(**cols)


def build(claims: Any, resolved: Any) -> Any:
    zero = ibis.literal(0).cast(AMOUNT)
    e = claims.filter(claims.eligible)
    short = e.std - e.paid_total
    dup = (e.paid_rows >= 2) & (e.paid_total > e.std)
    split = e.share_central.notnull() | e.share_province.notnull()
    pct = lambda v: v.cast(AMOUNT).fill_null(zero)  # noqa: E731 - the catalog's percentages, exact
    central = (e.std * pct(e.share_central) / 100).round(2).cast(AMOUNT)
    province = (e.std * pct(e.share_province) / 100).round(2).cast(AMOUNT)
    entitled = _part(
        e, e.responsible,
        entitled_n=ibis.literal(1),
        entitled_amount=e.std,
        missed_amount=(short > 0).ifelse(short, zero),
        duplicate_amount=dup.ifelse(e.paid_total - e.std, zero),
        unpaid_amount=(e.paid_rows == 0).ifelse(e.std, zero),
        short_amount=((e.paid_rows > 0) & (short > 0)).ifelse(short, zero),
        over_amount=(~dup & (short < 0)).ifelse(-short, zero),
        entitled_central=split.ifelse(central, zero),
        entitled_province=split.ifelse(province, zero),
        entitled_local=split.ifelse(e.std - central - province, zero),
    )
    paid = _part(resolved, resolved.payer_county_code, paid_amount=resolved.amount)
    bad = claims.filter(~claims.eligible & ~claims.pending).select("person_id", "term", "programme_code")
    r = resolved.left_join(bad.mutate(_bad=ibis.literal(True)), ["person_id", "term", "programme_code"])
    r = r.filter(r.person_id.isnull() | r._bad.fill_null(False))
    wrong = _part(r, r.payer_county_code, wrong_amount=r.amount)
    allp = entitled.union(paid, wrong)
    out = allp.group_by(["county", "programme_code", "term"]).aggregate(
        entitled_n=allp.entitled_n.sum(), **{m: allp[m].sum() for m in MONEY}
    )
    return out.select(**{n: out[n].cast(SCHEMA[n]) for n in SCHEMA.names})
