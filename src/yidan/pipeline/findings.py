"""Step `findings`: the one list — schooling findings (K) and aid findings (Z) in one table.

Both halves already carry the contract's findings schema; this step only puts them
together and fixes the column order and types so every run writes the same file.
"""

from __future__ import annotations

import ibis

from yidan.pipeline.context import RunContext

FINDINGS_SCHEMA = ibis.schema(
    {
        "finding_key": "string",
        "code": "string",
        "label": "string",
        "person_id": "string",
        "name": "string",
        "term": "string",
        "programme_code": "string",
        "county": "string",
        "township": "string",
        "village": "string",
        "school_code": "string",
        "amount_expected": "decimal(14, 2)",
        "amount_paid": "decimal(14, 2)",
        "detail": "string",
        "evidence": "string",
        "family": "string",
    }
)


def conform(table: ibis.Table) -> ibis.Table:
    """`table` with exactly the findings columns, in order and type (missing ones null)."""
    cols = {}
    for name, typ in FINDINGS_SCHEMA.items():
        cols[name] = table[name].cast(typ) if name in table.columns else ibis.null().cast(typ)
    return table.select(**cols)


def build_findings(ctx: RunContext) -> None:
    parts = [conform(ctx.get("school_findings"))]
    if ctx.has("aid_findings"):
        parts.append(conform(ctx.get("aid_findings")))
    findings = parts[0]
    for p in parts[1:]:
        findings = findings.union(p)
    table = ctx.put("findings", findings)
    counts = table.code.value_counts().execute()
    ctx.notes["findings"] = {str(k): int(v) for k, v in zip(counts.iloc[:, 0], counts.iloc[:, 1], strict=True)}
