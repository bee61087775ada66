"""Dashboard figures for one region: statuses, findings and cases by sub-region, and trends.

All aggregation runs in SQL on the small `region_counts` table written at publishing (one
row set per run, region and key, at every level: a page reads its own region's rows and its
children's, never another region's), and on `cases` inside the region for the open cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select
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


_FIGURES: dict[tuple, tuple] = {}  # the published runs' figures of a region (see `_figures`)
_FIGURES_MAX = 2000


def _figures(session: Session, *, region: str, runs: list[Run]) -> tuple:
    """(statuses, findings, children's figures, trend counts) of `region` from `region_counts`, which a
    publish writes once per run and nothing changes after: kept per process under the database, the region
    and the published runs (with the moment each was published), so a dashboard under a crowd reads them
    once per publish instead of once a request (issue 21); only the open cases are read each time."""
    bind = session.get_bind()
    url = bind.url if isinstance(bind, Engine) else bind.engine.url
    key = (str(url), region, tuple((r.id, r.published_at) for r in runs))
    hit = _FIGURES.get(key)
    if hit is not None:
        return hit
    rc = RegionCount
    run = runs[-1]
    statuses: dict[str, int] = {}
    findings: dict[str, int] = {}
    stmt = (select(rc.dimension, rc.key, func.sum(rc.count))
            .where(rc.region == region, rc.run_pk == run.id).group_by(rc.dimension, rc.key))
    for dim, k, cnt in session.execute(stmt):
        {"status": statuses, "finding": findings}.get(dim, {})[k] = int(cnt)
    children: dict[str, dict[str, int]] = {}
    if child_length(region):
        by_child = (select(rc.region, rc.dimension, func.sum(rc.count))
                    .where(rc.parent == region, rc.run_pk == run.id).group_by(rc.region, rc.dimension))
        for code, dim, cnt in session.execute(by_child):
            children.setdefault(code, {"finding": 0, "status": 0})[dim] = int(cnt)
    by_run = (select(rc.run_pk, rc.dimension, func.sum(rc.count))
              .where(rc.region == region, rc.run_pk.in_([r.id for r in runs]))
              .group_by(rc.run_pk, rc.dimension))
    per: dict[int, dict[str, int]] = {}
    for pk, dim, cnt in session.execute(by_run):
        per.setdefault(pk, {})[dim] = int(cnt)
    if len(_FIGURES) >= _FIGURES_MAX:
        _FIGURES.clear()
    _FIGURES[key] = out = (statuses, findings, children, per)
    return out


def dashboard(session: Session, *, region: str, runs: list[Run]) -> Dashboard:
    """Figures of `region` from the per-region counts written at publish (`region_counts`): its own rows,
    its children's rows and, for the trend, its own rows of each run; open cases by child from `cases`
    inside the region only."""
    run = runs[-1] if runs else None
    dash = Dashboard(region=region, run=run)
    if run is None:
        return dash
    statuses, findings, children, per = _figures(session, region=region, runs=runs)
    dash.statuses, dash.findings = dict(statuses), dict(findings)
    n = child_length(region)
    if n:
        rows = {code: {"code": code, **figs, "open_cases": 0} for code, figs in children.items()}
        case_child = func.substr(Case.county, 1, n) if n <= 6 else Case.township
        stmt2 = (select(case_child, func.count())
                 .where(cases_in_region(region, ranged=True), Case.state.not_in(CLOSED_STATES))
                 .group_by(case_child))
        for code, cnt in session.execute(stmt2):
            if code is None:
                continue
            r = rows.setdefault(code, {"code": code, "finding": 0, "status": 0, "open_cases": 0})
            r["open_cases"] = int(cnt)
        dash.children = [rows[k] for k in sorted(rows)]
    dash.trend = [{"run": r.run_id or str(r.id), "term": r.term or "", "findings": per.get(r.id, {}).get("finding", 0),
                   "persons": per.get(r.id, {}).get("status", 0)} for r in runs]
    return dash
