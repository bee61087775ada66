"""Dashboard figures for one region: statuses, findings and cases by sub-region, and trends.

All aggregation runs in SQL on the small `region_counts` table written at publishing (one
row set per run, region and key, at every level: a page reads its own region's rows and its
children's, never another region's), and on `cases` inside the region for the open cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidan.store.crud.cases import in_region as cases_in_region
from yidan.store.models import CLOSED_STATES, Case, RegionCount, Run
from yidan.store.regions import child_length


@dataclass
class Dashboard:
    region: str
    run: Run | None
    statuses: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    children: list[dict] = field(default_factory=list)  # code, findings, statuses, open_cases
    trend: list[dict] = field(default_factory=list)  # run label, findings, persons


def dashboard(session: Session, *, region: str, runs: list[Run]) -> Dashboard:
    """Figures of `region` from the per-region counts written at publish (`region_counts`): its own rows,
    its children's rows and, for the trend, its own rows of each run; open cases by child from `cases`
    inside the region only."""
    run = runs[-1] if runs else None
    dash = Dashboard(region=region, run=run)
    rc = RegionCount
    if run is not None:
        stmt = (select(rc.dimension, rc.key, func.sum(rc.count))
                .where(rc.region == region, rc.run_pk == run.id).group_by(rc.dimension, rc.key))
        for dim, key, cnt in session.execute(stmt):
            {"status": dash.statuses, "finding": dash.findings}.get(dim, {})[key] = int(cnt)
        n = child_length(region)
        if n:
            rows: dict[str, dict] = {}
            by_child = (select(rc.region, rc.dimension, func.sum(rc.count))
                        .where(rc.parent == region, rc.run_pk == run.id).group_by(rc.region, rc.dimension))
            for code, dim, cnt in session.execute(by_child):
                r = rows.setdefault(code, {"code": code, "finding": 0, "status": 0, "open_cases": 0})
                r[dim] = int(cnt)
            case_child = func.substr(Case.county, 1, n) if n <= 6 else Case.township
            stmt2 = (select(case_child, func.count())
                     .where(cases_in_region(region), Case.state.not_in(CLOSED_STATES))
                     .group_by(case_child))
            for code, cnt in session.execute(stmt2):
                if code is None:
                    continue
                r = rows.setdefault(code, {"code": code, "finding": 0, "status": 0, "open_cases": 0})
                r["open_cases"] = int(cnt)
            dash.children = [rows[k] for k in sorted(rows)]
    if runs:
        by_run = (select(rc.run_pk, rc.dimension, func.sum(rc.count))
                  .where(rc.region == region, rc.run_pk.in_([r.id for r in runs]))
                  .group_by(rc.run_pk, rc.dimension))
        per: dict[int, dict[str, int]] = {}
        for pk, dim, cnt in session.execute(by_run):
            per.setdefault(pk, {})[dim] = int(cnt)
        dash.trend = [{"run": r.run_id or str(r.id), "term": r.term or "", "findings": per.get(r.id, {}).get("finding", 0),
                       "persons": per.get(r.id, {}).get("status", 0)} for r in runs]
    return dash
