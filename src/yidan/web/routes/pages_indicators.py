"""Indicator dashboards (issue 17): per level, the declared indicators with target and gap, a county
table sortable by gap, an offline county map (SVG drawn here), and the report form as a download.

Figures are aggregates of the latest published run covering the region (its previous published run
gives the change); only regions inside the user's region are shown. The export is audited.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from yidan.errors import NotFoundError
from yidan.reports.indicator_defs import BY_CODE, INDICATORS
from yidan.store import audit
from yidan.store.crud import runs as run_crud
from yidan.web.deps import ALL_ROLES, CurrentUser, RegionParam, SessionDep, allow
from yidan.web.render import render
from yidan.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
LEVEL_OF_LENGTH = {2: "province", 4: "city", 6: "county"}
_CACHE: dict[tuple[str, str | None, str], pa.Table] = {}  # (run, previous run, targets) -> targets table
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _config(request: Request) -> Any:
    from yidan.settings import IndicatorConfig, load_run_config

    settings = request.app.state.settings
    path = settings.run_config or Path(settings.data_dir) / "yidan.toml"
    return load_run_config(path).indicators if Path(path).is_file() else IndicatorConfig()


def _targets(request: Request, session: Any, region: str) -> tuple[Any, pa.Table]:
    from yidan.reports.indicator_targets import compute_targets
    from yidan.runs.rundir import RunDir

    runs = run_crud.published_runs(session, region=region)
    if not runs:
        raise NotFoundError("还没有已发布的比对结果，暂无指标。", hint="等待省级发布比对结果。")
    run, prev = runs[-1], (runs[-2] if len(runs) > 1 else None)
    cfg = _config(request)
    key = (run.path, prev.path if prev else None, cfg.model_dump_json())
    if key not in _CACHE:
        while len(_CACHE) >= 16:  # a few recent runs are enough; the oldest goes first
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compute_targets(RunDir(run.path), RunDir(prev.path) if prev else None, cfg)
    return run, _CACHE[key]


def _inside(table: pa.Table, region: str) -> pa.Table:
    """Rows of regions inside `region` (and the indicators that could not be computed at all)."""
    prefix = region[:6]
    own = prefix.ljust(6, "0")
    rows = [r for r in table.to_pylist()
            if not r["region"] or (r["level"] == "county" and r["region"].startswith(prefix)) or r["region"] == own
            or (r["level"] == "city" and len(prefix) <= 4 and r["region"].startswith(prefix))]
    return pa.Table.from_pylist(rows, schema=table.schema)


@router.get("/indicators/{region}", dependencies=allow(*ALL_ROLES), name="indicators")
def indicators_page(request: Request, session: SessionDep, user: CurrentUser, region: RegionParam,
                    code: str | None = None, sort: str = "gap"):
    from yidan.reports.indicator_map import load_boundaries, map_regions, map_svg
    from yidan.reports.indicator_targets import not_computed

    run, table = _targets(request, session, region)
    mine = _inside(table, region)
    level = LEVEL_OF_LENGTH.get(len(region), "county")
    own = region[:6].ljust(6, "0")
    rows = mine.to_pylist()
    missing = not_computed(table)
    summary = []
    for ind in INDICATORS:
        r = next((x for x in rows if x["code"] == ind.code and x["level"] == level and x["region"] == own), None)
        summary.append({"ind": ind, "row": r, "missing": missing.get(ind.code)})
    computed = [i.code for i in INDICATORS if i.code not in missing]
    code = code if code in BY_CODE else (computed[0] if computed else INDICATORS[0].code)
    counties = [r for r in rows if r["code"] == code and r["level"] == "county"]
    if sort == "region":
        counties.sort(key=lambda r: r["region"])
    else:
        sort = "gap"
        counties.sort(key=lambda r: (r["gap"] is None, -(r["gap"] or 0.0), r["region"]))
    svg, map_note = "", ""
    path = request.app.state.settings.indicator_boundaries
    if path is None:
        map_note = "未配置县界文件（YIDAN_INDICATOR_BOUNDARIES，省里提供的县级 GeoJSON），不显示地图。"
    elif code not in missing:
        geo = {c: rings for c, rings in load_boundaries(path).items() if c.startswith(region[:6])}
        if geo:
            svg = map_svg(geo, map_regions(mine, code), title=BY_CODE[code].name)
        else:
            map_note = "县界文件中没有本地区的县。"
    return render(request, "indicators.html", {
        "region": region, "run": run, "summary": summary, "code": code, "ind": BY_CODE[code],
        "counties": counties, "sort": sort, "svg": svg, "map_note": map_note, "computed": computed,
    })


@router.get("/indicators/{region}/form.xlsx", dependencies=allow(*ALL_ROLES), name="indicators_form")
def indicators_form(request: Request, session: SessionDep, user: CurrentUser, region: RegionParam):
    from yidan.reports.indicator_form import write_indicator_form
    from yidan.runs.rundir import RunDir

    run, table = _targets(request, session, region)
    rundir = RunDir(run.path)
    name = f"指标报表_{region}_{rundir.term}.xlsx"
    with tempfile.TemporaryDirectory() as tmp:
        path = write_indicator_form(_inside(table, region), rundir, Path(tmp) / "form.xlsx")
        body = path.read_bytes()
    audit.record(session, user=user, action="export_indicators", target=name, detail=f"比对 {rundir.run_id}")
    from urllib.parse import quote

    return Response(body, media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
