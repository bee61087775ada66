"""Dashboard figures for one region: statuses, findings and cases by sub-region, and trends.

All aggregation runs in SQL on the small `run_counts` table written at publishing,
and on `cases` grouped by region prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidan.store.crud.cases import in_region as cases_in_region
from yidan.store.models import CLOSED_STATES, Case, Run, RunCount
from yidan.store.regions import child_length


@dataclass
class Dashboard:
    region: str
    run: Run | None
    statuses: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    children: list[dict] = field(default_factory=list)  # code, findings, statuses, open_cases
    trend: list[dict] = field(default_factory=list)  # run label, findings, persons


def _child_expr(region: str, n: int):  # type: ignore[no-untyped-def]
    if n <= 6:
        return func.substr(RunCount.county, 1, n)
    return RunCount.township


def dashboard(session: Session, *, region: str, runs: list[Run]) -> Dashboard:
    run = runs[-1] if runs else None
    dash = Dashboard(region=region, run=run)
    in_region = (RunCount.township.startswith(region, autoescape=True) if len(region) > 6
                 else RunCount.county.startswith(region, autoescape=True))
    if run is not None:
        for dim, target in (("status", dash.statuses), ("finding", dash.findings)):
            stmt = (select(RunCount.key, func.sum(RunCount.count))
                    .where(RunCount.run_pk == run.id, RunCount.dimension == dim, in_region).group_by(RunCount.key))
            target.update({k: int(n) for k, n in session.execute(stmt)})
        n = child_length(region)
        if n:
            child = _child_expr(region, n)
            rows: dict[str, dict] = {}
            by_child = (select(child, RunCount.dimension, func.sum(RunCount.count))
                        .where(RunCount.run_pk == run.id, in_region).group_by(child, RunCount.dimension))
            for code, dim, cnt in session.execute(by_child):
                if code is None:
                    continue
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
        by_run = (select(RunCount.run_pk, RunCount.dimension, func.sum(RunCount.count))
                  .where(RunCount.run_pk.in_([r.id for r in runs]), in_region)
                  .group_by(RunCount.run_pk, RunCount.dimension))
        per: dict[int, dict[str, int]] = {}
        for pk, dim, cnt in session.execute(by_run):
            per.setdefault(pk, {})[dim] = int(cnt)
        dash.trend = [{"run": r.run_id or str(r.id), "term": r.term or "", "findings": per.get(r.id, {}).get("finding", 0),
                       "persons": per.get(r.id, {}).get("status", 0)} for r in runs]
    return dash
