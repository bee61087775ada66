"""Step `summary`: counts by county × status, county × finding code, and aid totals (long form).

One long table so reports read every indicator with one filter on `dimension`.
"""

from __future__ import annotations

import ibis

from yidan.pipeline.context import RunContext

SUMMARY_SCHEMA = ibis.schema(
    {
        "dimension": "string",
        "county": "string",
        "key": "string",
        "term": "string",
        "count": "int64",
        "amount_expected": "decimal(18, 2)",
        "amount_paid": "decimal(18, 2)",
        "amount_missed": "decimal(18, 2)",
        "amount_duplicate": "decimal(18, 2)",
        "amount_wrong": "decimal(18, 2)",
    }
)


def _conform(table: ibis.Table) -> ibis.Table:
    cols = {}
    for name, typ in SUMMARY_SCHEMA.items():
        cols[name] = table[name].cast(typ) if name in table.columns else ibis.null().cast(typ)
    return table.select(**cols)


def build_summary(ctx: RunContext) -> None:
    term = ctx.term.label
    ps = ctx.get("person_status")
    by_status = ps.group_by(county=ps.hukou_county, key=ps.status).aggregate(count=ps.count()).mutate(
        dimension=ibis.literal("status"), term=ibis.literal(term)
    )
    f = ctx.get("findings")
    by_finding = f.group_by(county=f.county, key=f.code, term=f.term).aggregate(
        count=f.count(), amount_expected=f.amount_expected.sum(), amount_paid=f.amount_paid.sum()
    ).mutate(dimension=ibis.literal("finding"))
    parts = [_conform(by_status), _conform(by_finding)]
    if ctx.has("aid_totals"):
        a = ctx.get("aid_totals")
        parts.append(
            _conform(
                a.select(
                    dimension=ibis.literal("aid"), county=a.county, key=a.programme_code, term=a.term,
                    count=a.entitled_n, amount_expected=a.entitled_amount, amount_paid=a.paid_amount,
                    amount_missed=a.missed_amount, amount_duplicate=a.duplicate_amount,
                    amount_wrong=a.wrong_amount,
                )
            )
        )
    summary = parts[0]
    for p in parts[1:]:
        summary = summary.union(p)
    ctx.put("summary", summary)
