"""JSON API for the approval of a run's list and for inspection samples (issue 16).

The same service functions as the pages (store/approvals.py, store/inspections.py), token auth,
the same roles and region scope, and the same audit rows; a bearer token needs no CSRF token, like
every /api route. Errors answer JSON with `detail` and `hint` (web/app.py): a county cannot
approve, a published run is locked, an inspector records only their own sample.
"""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yidan.errors import NotFoundError
from yidan.reports.inspection import RESULTS, draw_rows, parse_stages
from yidan.runs.rundir import RunDir
from yidan.store import approvals, audit, inspections
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.models import Run, User
from yidan.store.regions import region_name
from yidan.web.deps import CurrentUser, RunInScope, SessionDep, allow
from yidan.web.masking import mask_id, mask_phone, scrub_text

router = APIRouter(prefix="/api", tags=["supervision"])
APPROVAL_VIEWERS = ("province_admin", "province_analyst", "city", "county")
RESULT_VIEWERS = ("province_admin", "province_analyst", "city", "inspector")


class RegionStateOut(BaseModel):
    region: str
    name: str
    state: str = Field(description="pending 待县确认 / confirmed 县已确认 / returned 县已退回 / approved 市州已审核")
    state_label: str
    reason: str | None
    actor: str
    findings: int


class ApprovalOut(BaseModel):
    run_pk: int
    run_status: str
    states: list[RegionStateOut]


class ReturnIn(BaseModel):
    reason: str = Field("", max_length=500, description="退回原因（必填），如输入数据有误、缺少文件")


class InspectionItemOut(BaseModel):
    id: int
    run_pk: int
    name: str
    person_id: str = Field(description="已脱敏")
    place: str
    household_id: str
    head_name: str
    phone: str = Field(description="已脱敏")
    evidence: str
    result: str | None
    note: str | None
    recorded_at: datetime | None


class CountyResultOut(BaseModel):
    county: str
    name: str
    checked: int
    defects: int
    rate: float
    low: float
    high: float


class InspectionOut(BaseModel):
    items: list[InspectionItemOut] = Field(description="本人的抽查名单（仅督导检查角色）")
    results: list[CountyResultOut] = Field(description="本地区已录入结果的各县问题率，95% Wilson 区间")


class DrawIn(BaseModel):
    inspector: str = Field(max_length=64, description="督导检查账号的用户名")
    stages: str = Field("county:fixed:2,township:fixed:2,household:fixed:5", max_length=200,
                        description="抽样阶段，如 county:fixed:2,township:share:0.5,household:fixed:5")
    seed: int = Field(1, description="随机种子：相同种子、相同比对抽出相同名单")


class DrawOut(BaseModel):
    run_pk: int
    inspector: str
    seed: int
    drawn: int


class ResultIn(BaseModel):
    result: str = Field(description="、".join(RESULTS))
    note: str = Field("", max_length=1000, description="有问题时必填：发现的问题")


def _approval(session: SessionDep, user: User, run: Run) -> ApprovalOut:
    """The regions of the run the user sees: their own, those above and those inside it (as the page)."""
    states = [RegionStateOut(region=s.region, name=region_name(s.region), state=s.state, state_label=s.label,
                             reason=s.reason, actor=s.actor, findings=s.findings)
              for s in approvals.region_states(session, run=run)
              if s.region.startswith(user.region) or user.region.startswith(s.region)]
    return ApprovalOut(run_pk=run.id, run_status=run.status, states=states)


@router.get("/runs/{run_pk}/approval", dependencies=allow(*APPROVAL_VIEWERS), response_model=ApprovalOut,
            name="api_run_approval")
def api_run_approval(session: SessionDep, user: CurrentUser, run: RunInScope) -> ApprovalOut:
    """一次比对各县确认、各市州审核的情况（只含本地区）。"""
    return _approval(session, user, run)


@router.post("/runs/{run_pk}/approval/confirm", dependencies=allow("county"), response_model=ApprovalOut,
             name="api_run_approval_confirm")
def api_run_approval_confirm(session: SessionDep, user: CurrentUser, run: RunInScope) -> ApprovalOut:
    """县确认本县清单（已发布的比对已锁定，返回 400）。"""
    approvals.confirm(session, run=run, user=user)
    return _approval(session, user, run)


@router.post("/runs/{run_pk}/approval/return", dependencies=allow("county"), response_model=ApprovalOut,
             name="api_run_approval_return")
def api_run_approval_return(session: SessionDep, user: CurrentUser, run: RunInScope, payload: ReturnIn) -> ApprovalOut:
    """县退回本县清单并写明原因；市州的审核随之撤销。"""
    approvals.return_list(session, run=run, user=user, reason=payload.reason)
    return _approval(session, user, run)


@router.post("/runs/{run_pk}/approval/approve", dependencies=allow("city"), response_model=ApprovalOut,
             name="api_run_approval_approve")
def api_run_approval_approve(session: SessionDep, user: CurrentUser, run: RunInScope) -> ApprovalOut:
    """市州审核通过本市州的清单（须各县都已确认）。"""
    approvals.approve(session, run=run, user=user)
    return _approval(session, user, run)


def _item(i) -> InspectionItemOut:  # type: ignore[no-untyped-def]
    return InspectionItemOut(id=i.id, run_pk=i.run_pk, name=i.name or "", person_id=mask_id(i.person_id),
                             place=i.place or "", household_id=i.household_id or "", head_name=i.head_name or "",
                             phone=mask_phone(i.phone or ""), evidence=scrub_text(i.evidence or ""), result=i.result,
                             note=scrub_text(i.note) if i.note else i.note, recorded_at=i.recorded_at)


@router.get("/inspection", dependencies=allow(*RESULT_VIEWERS), response_model=InspectionOut, name="api_inspection")
def api_inspection(session: SessionDep, user: CurrentUser) -> InspectionOut:
    """督导检查：本人的抽查名单（身份证号、电话已脱敏）和本地区各县的问题率。"""
    items = inspections.items_for(session, inspector=user) if user.role == "inspector" else []
    results = [CountyResultOut(county=r.county, name=r.name, checked=r.checked, defects=r.defects,
                               rate=r.defects / r.checked if r.checked else 0.0, low=r.low, high=r.high)
               for r in inspections.results(session, region=user.region)]
    return InspectionOut(items=[_item(i) for i in items], results=results)


@router.post("/inspection/draw", dependencies=allow("province_admin"), response_model=DrawOut,
             name="api_inspection_draw")
def api_inspection_draw(session: SessionDep, user: CurrentUser, payload: DrawIn) -> DrawOut:
    """从最近一次已发布的比对中按阶段抽样，作为一个督导检查账号的名单（替换其本次比对的旧名单）。"""
    run = run_crud.latest_published(session, region=user.region)
    if run is None:
        raise NotFoundError("还没有已发布的比对，无法抽样。", hint="先发布比对结果。")
    who = users.get_by_username(session, username=payload.inspector.strip())
    if who is None:
        raise NotFoundError(f"账号不存在：{payload.inspector.strip()[:30]}", hint="填写督导检查账号的用户名。")
    _, rows = draw_rows(RunDir(run.path), parse_stages(payload.stages), payload.seed)
    n = inspections.create(session, run=run, inspector=who, seed=payload.seed, rows=rows)
    audit.record(session, user=user, action="inspection_draw", target=who.username,
                 detail=f"比对 {run.id}，{payload.stages}，种子 {payload.seed}，{n} 人")
    return DrawOut(run_pk=run.id, inspector=who.username, seed=payload.seed, drawn=n)


@router.post("/inspection/items/{item_id}", dependencies=allow("inspector"), response_model=InspectionItemOut,
             name="api_inspection_record")
def api_inspection_record(session: SessionDep, user: CurrentUser, item_id: int, payload: ResultIn) -> InspectionItemOut:
    """录入本人名单中一个抽查对象的核查结果（他人名单中的对象返回 404）。"""
    item = inspections.record(session, item_id=item_id, inspector=user, result=payload.result, note=payload.note)
    audit.record(session, user=user, action="inspection_result", target=f"抽查对象 {item.id}",
                 detail=f"比对 {item.run_pk}，{item.result}")
    return _item(item)
