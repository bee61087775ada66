"""JSON API of the declared indicators (issue 17): the same figures as the dashboard and the report form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from yidan.web.deps import ALL_ROLES, RegionParam, SessionDep, allow
from yidan.web.routes.pages_indicators import _inside, _targets

router = APIRouter(prefix="/api", tags=["indicators"])


class IndicatorRowOut(BaseModel):
    code: str
    name: str
    unit: str
    level: str
    region: str
    region_name: str
    value: float | None
    numerator: float | None
    denominator: float | None
    target: float | None
    target_year: int | None
    gap: float | None
    previous: float | None
    change: float | None
    basis: str
    note: str


class IndicatorsOut(BaseModel):
    region: str
    run_id: str | None
    term: str | None
    rows: list[IndicatorRowOut]


@router.get("/indicators/{region}", dependencies=allow(*ALL_ROLES), response_model=IndicatorsOut,
            name="api_indicators")
def api_indicators(request: Request, session: SessionDep, region: RegionParam) -> IndicatorsOut:
    """某地区（及其下级各县）最近一次已发布比对的教育指标：数值、分子、分母、目标、目标年份、差距和较上次变化；
    无法计算的指标只有一行，note 写明原因。"""
    run, table = _targets(request, session, region)
    rows = [IndicatorRowOut(**r) for r in _inside(table, region).to_pylist()]
    return IndicatorsOut(region=region, run_id=run.run_id, term=run.term, rows=rows)
