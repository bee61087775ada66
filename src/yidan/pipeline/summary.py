"""Step `summary`: counts by county × status, county × finding code, and aid totals (long form).

One long table so reports read every indicator with one filter on `dimension`:
- `status`: county × status (statuses by age: 未入园 and 非义务教育阶段未在校 outside compulsory age);
- `status_detail`: the same split by township, village, age group, 人员类别 and 脱贫状态, for
  township and village dashboards and the priority groups (未脱贫, 返贫);
- `finding`: county × finding code × term; `aid`: county × programme × term with amounts.
"""

from __future__ import annotations

import ibis

from yidan.contract.outputs import SUMMARY
from yidan.pipeline.context import RunContext
from yidan.pipeline.findings import conform


def _conform(table: ibis.Table) -> ibis.Table:
    return conform(table, SUMMARY)


def build_summary(ctx: RunContext) -> None:
    term = ctx.term.label
    ps = ctx.get("persons_out")
    by_status = ps.group_by(county=ps.hukou_county, key=ps.status).aggregate(count=ps.count()).mutate(
        dimension=ibis.literal("status"), term=ibis.literal(term)
    )
    detail = ps.group_by(
        county=ps.hukou_county, township=ps.hukou_township, village=ps.hukou_village, key=ps.status,
        age_group=ps.age_group, category=ps.category, poverty_status=ps.poverty_status,
    ).aggregate(count=ps.count()).mutate(dimension=ibis.literal("status_detail"), term=ibis.literal(term))
    f = ctx.get("findings")
    by_finding = f.group_by(county=f.county, key=f.code, term=f.term).aggregate(
        count=f.count(), amount_expected=f.amount_expected.sum(), amount_paid=f.amount_paid.sum()
    ).mutate(dimension=ibis.literal("finding"))
    parts = [_conform(by_status), _conform(detail), _conform(by_finding)]
    if ctx.has("aid_totals"):
        a = ctx.get("aid_totals")
        parts.append(
            _conform(
                a.select(
                    dimension=ibis.literal("aid"), county=a.county, key=a.programme_code, term=a.term,
                    count=a.entitled_n, amount_expected=a.entitled_amount, amount_paid=a.paid_amount,
                    amount_missed=a.missed_amount, amount_duplicate=a.duplicate_amount,
                    amount_wrong=a.wrong_amount, amount_unpaid=a.unpaid_amount,
                    amount_short=a.short_amount, amount_over=a.over_amount,
                )
            )
        )
    summary = parts[0]
    for p in parts[1:]:
        summary = summary.union(p)
    ctx.put("summary", summary)
