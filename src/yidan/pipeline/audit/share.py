"""The approved share (核定比例) of programmes paid to a share of pupils (按比例资助).

Per paying county, programme and term: the recipients (distinct payees, registry children or
not) against the county's 在读 pupils of the programme's stages that term, and whether the share
exceeds the approved one. Only programmes whose catalog row sets 核定比例 are counted, and the
enrollment is read for them only (a catalog without shares reads nothing more).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ibis

from yidan.pipeline.context import RunContext


def check(ctx: RunContext, by_term: Any, resolved: Any) -> list[dict[str, Any]]:
    """Rows {county, programme_code, term, recipients, pupils, approved_share, actual_share, over}."""
    rated = by_term.filter(by_term.approved_share.notnull())
    programmes = rated.select("programme_code", "term", "approved_share", stage=rated.stages)
    if not programmes.count().to_pyarrow().as_py():
        return []
    paid = resolved.inner_join(programmes.select("programme_code", "term").distinct(), ["programme_code", "term"])
    paid = paid.group_by(county=paid.payer_county_code, programme_code=paid.programme_code, term=paid.term).aggregate(
        recipients=paid.person_id.fill_null(paid.id_number).nunique()
    )
    enr = ctx.get("enrollment")
    by_stage = programmes.unnest("stage")
    enr = enr.filter(enr.enrollment_status == "在读").select("student_no", "stage", "term", "school_county_code")
    e = enr.inner_join(by_stage, [enr.stage == by_stage.stage, enr.term == by_stage.term])
    pupils = e.group_by(county=e.school_county_code, programme_code=e.programme_code, term=e.term).aggregate(
        pupils=e.student_no.nunique()
    )
    j = paid.left_join(pupils, ["county", "programme_code", "term"]).select(~ibis.selectors.endswith("_right"))
    j = j.inner_join(programmes.select("programme_code", "term", "approved_share").distinct(),
                     ["programme_code", "term"]).select(~ibis.selectors.endswith("_right"))
    rows = j.to_pyarrow().to_pylist()
    out = []
    for r in sorted(rows, key=lambda r: (r["county"], r["programme_code"], r["term"])):  # a row per county
        pupils_n = int(r["pupils"] or 0)
        approved = Decimal(r["approved_share"])
        actual = (Decimal(100 * r["recipients"]) / pupils_n) if pupils_n else None
        out.append({
            "county": r["county"], "programme_code": r["programme_code"], "term": r["term"],
            "recipients": int(r["recipients"]), "pupils": pupils_n,
            "approved_share": f"{approved:.2f}",
            "actual_share": f"{actual:.2f}" if actual is not None else None,
            "over": actual is None or actual > approved,
        })
    return out
