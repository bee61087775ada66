"""Programmes paid to a larger share of pupils than approved (核定比例, issue 15), read from a run's manifest.

The pipeline computes the share per paying county, programme and term (pipeline/audit/share.py) into
the manifest at `contract.outputs.APPROVED_SHARE_PATH`; this module reads it for the web's 资助台账
and the county workbook's 资助台账 sheet. A run written before the share was computed has none.
"""

from __future__ import annotations

from typing import Any

from yidan.contract.outputs import APPROVED_SHARE_FIELDS, APPROVED_SHARE_PATH
from yidan.runs.rundir import RunDir

NOTE = ("受助人数为该县发放该项目的不同受助人（含非建档立卡学生），在读学生数为该县该项目学段当学期在读的学生；"
        "实际比例高于核定比例的项目列出，须核查是否超范围发放。按县计算，不分学校。")


def over_share(run: RunDir, region: str) -> list[dict[str, Any]]:
    """The rows of counties in `region` (a code prefix) whose programme exceeded its approved share,
    by county, programme and term; each with the declared fields only."""
    node: Any = run.manifest
    for key in APPROVED_SHARE_PATH:
        node = node.get(key) if isinstance(node, dict) else None
    rows = [r for r in (node or []) if isinstance(r, dict) and r.get("over") and
            str(r.get("county") or "").startswith(region)]
    out = [{k: r.get(k) for k in APPROVED_SHARE_FIELDS} for r in rows]
    return sorted(out, key=lambda r: (str(r["county"]), str(r["programme_code"]), str(r["term"])))
