"""Aid casework pages (issue 15): the totals of 补发 and 追回 per region, and the city's queue of aid
closures waiting for its confirmation (the confirmation itself is the case page's 确认销号 / 退回).

* `/aid/totals[?region=…]` — 应补发 / 已补发 / 应追回 / 已追回 (amount and count) of each city of a
  province, each county of a city, or the county itself; region-scoped (a region outside the user's
  is not found). The same as JSON under `/api/aid/totals`.
  Below it, the programmes paid to more pupils than approved (核定比例) per county, from the latest
  published run's manifest (numerator, denominator, actual and approved share).
* `/aid/confirmations` — for city users: the aid cases of the region whose closure waits for them.
"""

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from yidan.errors import NotFoundError
from yidan.reports import approved_share
from yidan.runs.rundir import RunDir
from yidan.store import aid_casework, regions
from yidan.store.crud import runs as run_crud
from yidan.store.models import User
from yidan.web.deps import ALL_ROLES, CLOSURE_CONFIRMERS, CurrentUser, MaskerDep, SessionDep, allow
from yidan.web.masking import CaseView
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.supervision import city_amount

router = APIRouter(dependencies=[Depends(check_csrf)])
api_router = APIRouter(prefix="/api", tags=["aid"])


def _scope(user: User, region: str | None) -> str:
    wanted = (region or "").strip() or user.region
    if not wanted.isdigit() or not wanted.startswith(user.region):
        raise NotFoundError(f"地区不存在或不在您的权限范围内：{wanted[:12]}", hint="从资助台账逐级进入。")
    return wanted


def _level(region: str) -> int:
    return {2: 4, 4: 6}.get(len(region), 6)


def _totals(session: Any, region: str) -> dict[str, Any]:
    level = _level(region)
    rows = aid_casework.totals(session, region=region, level=level)
    total = {k: (sum((r[k] for r in rows), Decimal("0.00")) if k.endswith("_amount") else sum(r[k] for r in rows))
             for k in (rows[0] if rows else {}) if k != "region"}
    return {"rows": rows, "total": total, "level": level}


def _shares(session: Any, region: str) -> list[dict[str, Any]]:
    """The programmes paid to more pupils than approved (核定比例), per county of `region`, from the latest
    run published for it (its manifest; reports/approved_share.py); none without a published run."""
    run = run_crud.latest_published(session, region=region)
    if run is None:
        return []
    try:
        return approved_share.over_share(RunDir(run.path), region)
    except NotFoundError:  # the run directory is gone (archived): the page still shows the money
        return []


@router.get("/aid/totals", dependencies=allow(*ALL_ROLES), name="aid_totals")
def aid_totals_page(request: Request, session: SessionDep, user: CurrentUser, region: str | None = None):
    scope = _scope(user, region)
    parent = scope[:-2] if len(scope) > len(user.region) and len(scope) in (4, 6) else None
    return render(request, "aid_totals.html", {
        **_totals(session, scope), "region": scope, "parent": parent, "figures": aid_casework.TOTALS,
        "name_of": regions.region_name, "threshold": city_amount(request), "shares": _shares(session, scope),
        "share_note": approved_share.NOTE, "away_note": aid_casework.AWAY_NOTE})


class AidTotalsRow(BaseModel):
    region: str = Field(description="地区代码（省看各市州，市州看各县，县看本县）")
    region_name: str
    pay_due_amount: Decimal = Field(description="应补发金额：漏助（Z01）应发未发与少发（Z06）差额")
    pay_due_count: int = Field(description="应补发案件数")
    paid_amount: Decimal = Field(description="已补发金额：案件登记的补发合计")
    paid_count: int = Field(description="登记了补发的案件数")
    recover_due_amount: Decimal = Field(description="应追回金额：Z02（扣除他县 Z10 部分）、Z06 多发、Z04、Z05、Z09、Z10")
    recover_due_count: int = Field(description="应追回案件数")
    recovered_amount: Decimal = Field(description="已追回金额：案件登记的追回合计")
    recovered_count: int = Field(description="登记了追回的案件数")
    away_count: int = Field(description="省外就读兜底待核实（Z07）案件数：核实前不是欠发的资助，不计入应补发")


class ApprovedShareRow(BaseModel):
    county: str = Field(description="发放县")
    programme_code: str = Field(description="资助项目")
    term: str = Field(description="学期")
    recipients: int = Field(description="受助人数（分子）")
    pupils: int = Field(description="在读学生数（分母）")
    actual_share: str | None = Field(description="实际比例（%）；无在读学生时为空")
    approved_share: str = Field(description="核定比例（%）")


class AidTotalsOut(BaseModel):
    region: str
    rows: list[AidTotalsRow]
    over_approved_share: list[ApprovedShareRow] = Field(description="超过核定比例的按比例资助项目（最新发布的比对）")
    note: str = "不含数据销号（对账销号）的案件；金额单位为元，精确到分。" + aid_casework.AWAY_NOTE


@api_router.get("/aid/totals", dependencies=allow(*ALL_ROLES), response_model=AidTotalsOut, name="api_aid_totals")
def api_aid_totals(session: SessionDep, user: CurrentUser, region: str | None = None) -> AidTotalsOut:
    """本地区各下级的资助台账：应补发、已补发、应追回、已追回（金额与件数）。"""
    scope = _scope(user, region)
    rows = _totals(session, scope)["rows"]
    return AidTotalsOut(region=scope, rows=[AidTotalsRow(**r, region_name=regions.region_name(r["region"]))
                                            for r in rows],
                        over_approved_share=[ApprovedShareRow(**r) for r in _shares(session, scope)])


@router.get("/aid/confirmations", dependencies=allow(*CLOSURE_CONFIRMERS), name="aid_confirmations")
def aid_confirmations(request: Request, session: SessionDep, user: CurrentUser, masker: MaskerDep):
    threshold = city_amount(request)
    queue = aid_casework.confirmation_queue(session, region=user.region)
    rows = [{"case": CaseView.of(c, masker, with_details=False), "stake": aid_casework.stake(c)} for c in queue]
    return render(request, "aid_confirmations.html", {"rows": rows, "threshold": threshold})
