"""The aid audit (学生资助比对): who was entitled to what, who paid, and the findings Z01-Z07.

`AUDIT_STEPS` holds one step, `audit`, reading the engine tables `reg_persons`, `enrollment`,
`links`, `out_of_province`, `aid` and `policies` and writing `aid_findings` and
`aid_totals`; the terms audited and not audited go to `ctx.notes["audit"]`. Without aid or
policies, or without an audit term that has its own enrollment snapshot, both tables are
written empty with their schema.
"""

from __future__ import annotations

from typing import Any

from yidan.errors import InputError
from yidan.pipeline.audit import catalog, entitlement, findings, payer, payments, share, totals
from yidan.pipeline.audit.terms import split_terms, terms_table
from yidan.pipeline.context import RunContext, Step


def audit(ctx: RunContext) -> None:
    audited, missing = split_terms(ctx)
    why = "学籍文件中没有该学期的学籍快照（回头看只按该学期自己的学籍判断）"
    ctx.notes["audit"] = {
        "terms_requested": [t.label for t in sorted(set(ctx.audit_terms))],
        "terms_audited": [t.label for t in audited],
        "terms_not_audited": [t.label for t in missing],
        "reason_not_audited": "无该学期学籍快照" if missing else "",
        "not_audited_reasons": {t.label: why for t in missing},
    }
    if missing and ctx.has("aid") and ctx.has("policies") and not ctx.allow_missing_terms:
        labels = "、".join(t.label for t in missing)
        raise InputError(
            f"资助核查学期 {labels} 没有学籍数据：学籍文件中没有这些学期的学籍快照，无法核查这些学期的资助",
            hint="补充这些学期的学籍文件后重试；或加 --allow-missing-terms 只核查有学籍的学期"
                 "（结果中会注明未核查的学期及原因）",
        )
    if not audited or not (ctx.has("aid") and ctx.has("policies")):
        if not (ctx.has("aid") and ctx.has("policies")):
            ctx.notes["audit"]["skipped"] = "未提供资助发放或资助项目数据"
        ctx.put("aid_findings", findings.empty())
        ctx.put("aid_totals", totals.empty())
        return
    terms = terms_table(ctx, audited)
    cat = catalog.read(ctx, audited)
    resolved = ctx.put("audit_payments", payments.resolve(ctx, terms))
    # read four times (paid pairs, facts, claims, payer texts): grouped once
    by_payer = ctx.put("audit_by_payer", payments.by_payer(resolved))
    paid_pairs = by_payer.select("person_id", "term", "programme_code").distinct()
    # materialised: facts reads it twice (candidate keys and the join), the window runs once
    enr = ctx.put("audit_enrolled", entitlement.enrolled(ctx, terms))
    oop = entitlement.out_of_province(ctx, terms)
    facts = ctx.put("audit_facts", entitlement.facts(ctx, terms, enr, oop, paid_pairs))
    quals = entitlement.qualified(ctx, terms, cat.by_term)  # None without other target lists
    judged = ctx.put("audit_judged", entitlement.judge(
        entitlement.pairs(facts, cat.by_term, paid_pairs), facts, cat, quals))
    paid = payer.paid_claims(by_payer, judged)
    claims = ctx.put("audit_claims", findings.claims(judged, paid, cat.grades))
    flagged = ctx.put("audit_flagged", findings.flagged(claims, by_payer, facts, cat))
    lists, ever = entitlement.listed(ctx, terms), entitlement.ever_listed(ctx)
    ctx.put("aid_findings", findings.build(flagged, payments.unresolved(resolved), cat.spans, quals,
                                           lists, ever))
    ctx.put("aid_totals", totals.build(claims, resolved))
    _figures(ctx)
    ctx.notes["audit"]["approved_share"] = share.check(ctx, cat.by_term, resolved)


_MONEY = totals.MONEY

def _figures(ctx: RunContext) -> None:
    """Figures for the manifest: findings per code, payments audited and unresolved, and the
    totals per term and programme and per county, programme and term (amounts as text: exact to
    the fen, never float; the same per-county figures are in summary.parquet)."""
    f = ctx.get("aid_findings")
    counts = f.group_by("code").aggregate(n=f.count()).to_pyarrow().to_pylist()
    pay = ctx.get("audit_payments")
    stats = pay.aggregate(
        payments=pay.count(), unresolved=pay.person_id.isnull().cast("int64").sum()
    ).to_pyarrow().to_pylist()[0]
    t = ctx.get("aid_totals")
    by = t.group_by(["term", "programme_code"]).aggregate(
        entitled_n=t.entitled_n.sum(), **{m: t[m].sum() for m in _MONEY}
    )
    ctx.notes["audit"]["totals"] = _rows(by, ("term", "programme_code"))
    ctx.notes["audit"]["totals_by_county"] = _rows(t, ("county", "term", "programme_code"))
    ctx.notes["audit"].update(
        findings={r["code"]: int(r["n"]) for r in sorted(counts, key=lambda r: r["code"])},
        payments_audited=int(stats["payments"] or 0),
        payments_unresolved=int(stats["unresolved"] or 0),
    )


def _rows(table: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Small totals tables as JSON-ready rows, amounts as exact text ('625.00')."""
    rows = table.to_pyarrow().to_pylist()
    return [
        {**{k: r[k] for k in keys}, "entitled_n": int(r["entitled_n"] or 0),
         **{m: f"{r[m]:.2f}" if r[m] is not None else "0.00" for m in _MONEY}}
        for r in sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
    ]


AUDIT_STEPS: tuple[Step, ...] = (Step("audit", "学生资助比对", audit),)

__all__ = ["AUDIT_STEPS", "audit"]
