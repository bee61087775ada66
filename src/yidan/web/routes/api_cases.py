"""JSON API for other provincial systems: the list, one case, and the case actions.

Token authentication only (Authorization: Bearer …); the same region scoping and
role rules as the pages, the same action models and services. Every body is built from
a `CaseView` (web/masking.py): masked for everyone, full only from `/full`, which is audited.
"""

from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_type_hints

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, create_model

from yidan.contract.outputs import NEXT_STEPS
from yidan.store import audit, deadlines
from yidan.store.crud import cases as crud
from yidan.store.errors import ConflictError
from yidan.web.actions import ACTIONS, Action, apply
from yidan.web.deps import (
    ALL_ROLES,
    REVEALERS,
    CaseInScope,
    CurrentUser,
    MaskerDep,
    RegionScope,
    SessionDep,
    allow,
    masker_for,
)
from yidan.web.masking import CaseView
from yidan.web.render import place
from yidan.web.routes.pages_cases import FilterDep
from yidan.web.supervision import case_extras, city_amount, required_codes

router = APIRouter(prefix="/api", tags=["cases"])


class EventOut(BaseModel):
    at: datetime
    actor: str
    kind: str
    summary: str


# a case's fields are listed once, in `CaseView` (web/masking.py): the API's case is the view's fields but
# those only the detail carries (with the API's own types, `CaseDetailOut`) or no body shows, with the
# amounts typed as the database holds them
_DETAIL_OR_INTERNAL = frozenset({"evidence", "person", "link", "team", "events", "is_closed", "full"})
_API_TYPES: dict[str, Any] = {"amount_expected": Decimal | None, "amount_paid": Decimal | None}
_VIEW_TYPES = get_type_hints(CaseView)
_LISTED: dict[str, Any] = {f.name: (_API_TYPES.get(f.name, _VIEW_TYPES[f.name]), ...)
                           for f in fields(CaseView) if f.name not in _DETAIL_OR_INTERNAL}
_CaseFields: type[BaseModel] = create_model("_CaseFields", **_LISTED)


class CaseOut(_CaseFields):  # type: ignore[misc,valid-type]
    # what a field team needs, from the run (contract/outputs.py); the phone masked in lists
    head_name: str | None = None
    relation: str | None = None
    phone: str | None = None
    place: str = ""  # 户籍地 as names: 县 乡镇 村
    school_name: str | None = None
    next_step: str | None = None
    # supervision (issue 16): what falls due next, none once closed
    due_kind: str | None = Field(None, description="verify：核实期限；close：办结期限；已办结为空")
    due_date: date | None = None
    days_left: int | None = Field(None, description="距期限天数，负数为已超期天数")
    overdue: bool = False


class AttachmentOut(BaseModel):
    id: int
    purpose: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    url: str


class AidMoneyOut(BaseModel):
    kind: str = Field(description="payment：补发；recovery：追回")
    kind_label: str
    amount: Decimal
    on_date: date
    voucher_no: str
    note: str
    actor: str
    attachment_id: int | None
    created_at: datetime


class AidLinkOut(BaseModel):
    county: str
    state_label: str
    to_recover: Decimal
    recovered: Decimal


class AidCaseRefOut(BaseModel):
    county: str
    code: str
    label: str
    state_label: str


class AidOut(BaseModel):
    """资助案件的补发、追回登记与销号依据（issue 15）。"""

    payment_due: Decimal = Field(description="应补发金额（漏助为应发未发，少发为差额）")
    recovery_due: Decimal = Field(description="应追回金额（含由关联的非应发放县 Z10 追回的部分）")
    paid: Decimal = Field(description="本案件已登记的补发合计")
    recovered: Decimal = Field(description="已登记的追回合计（含关联 Z10 案件登记的追回）")
    records: list[AidMoneyOut]
    linked: list[AidLinkOut] = Field(description="同一儿童、学期、项目的非应发放县（Z10）线索")
    responsible: list[AidCaseRefOut] = Field([], description="Z10：应发放县同一儿童、学期、项目的 Z02 / Z03 线索")
    needs_city: bool = Field(description="销号是否须市州确认（金额超过 city_confirm_amount）")
    city_confirm_amount: Decimal | None
    confirmation: str | None = Field(description="补发在下一轮比对中的核实情况")


class CaseDetailOut(CaseOut):
    evidence: str | None
    person: dict[str, Any]
    link: dict[str, Any]
    team: list[dict[str, str]]
    events: list[EventOut]
    attachments: list[AttachmentOut] = []
    aid: AidOut | None = None


class CaseListOut(BaseModel):
    total: int
    page: int
    items: list[CaseOut]


def _out(view: CaseView) -> dict[str, Any]:
    """The list fields of a case, all from the masked view (the phone masked unless revealed)."""
    data = {k: getattr(view, k) for k in CaseOut.model_fields if hasattr(view, k)}
    p = view.person
    data.update(head_name=p.get("head_name"), relation=p.get("relation"), phone=p.get("phone") or None,
                place=place(view.county, view.township, view.village, p), school_name=p.get("school_name"),
                next_step=NEXT_STEPS.get(view.code))
    return data


def _detail(view: CaseView, extras: dict[str, Any]) -> CaseDetailOut:
    """`extras`: the case's due date and attachments (web/supervision.py), names masked like the history."""
    due = extras["due"].as_dict() if extras.get("due") else {}
    files = [AttachmentOut(**a, url=f"/api/cases/{view.id}/attachments/{a['id']}") for a in extras.get("attachments", [])]
    return CaseDetailOut(**_out(view), **due, evidence=view.evidence, person=view.person, link=view.link,
                         team=view.team, attachments=files, aid=_aid(extras.get("aid")),
                         events=[EventOut(at=e.at, actor=e.actor, kind=e.kind, summary=e.summary) for e in view.events])


def _aid(shown: dict[str, Any] | None) -> AidOut | None:
    if shown is None:
        return None
    return AidOut(**{k: v for k, v in shown.items() if k in AidOut.model_fields and k != "records"},
                  records=[AidMoneyOut(**{k: v for k, v in r.items() if k in AidMoneyOut.model_fields})
                           for r in shown["records"]])


@router.get("/cases", dependencies=allow(*ALL_ROLES), response_model=CaseListOut, name="api_cases")
def api_cases(session: SessionDep, region: RegionScope, filters: FilterDep, masker: MaskerDep) -> CaseListOut:
    """本地区的问题清单（身份证号已脱敏，问题编号不含身份证号），可按问题代码、乡镇、村、学校、案件状态筛选；
    可查看完整信息的角色还可按完整或部分身份证号（id_number）查询；due=overdue（已超期）或 soon（7 天内到期）
    按期限筛选，sort=due 按期限排序（超期最久的在前）。"""
    rows, total = crud.list_cases(session, region=region, filters=filters)
    dues = deadlines.dues_for(session, rows)
    return CaseListOut(total=total, page=filters.page,
                       items=[CaseOut(**_out(CaseView.of(c, masker, with_details=False)),
                                      **(dues[c.id].as_dict() if c.id in dues else {})) for c in rows])


@router.get("/cases/{case_id}", dependencies=allow(*ALL_ROLES), response_model=CaseDetailOut, name="api_case")
def api_case(request: Request, session: SessionDep, case: CaseInScope, masker: MaskerDep) -> CaseDetailOut:
    """一个案件：儿童、证据、匹配说明、期限、附件和全部处理记录（身份证号、电话已脱敏）。"""
    return _detail(CaseView.of(case, masker), case_extras(request, session, case))


@router.get("/cases/{case_id}/full", dependencies=allow(*REVEALERS), response_model=CaseDetailOut,
            name="api_case_full")
def api_case_full(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope) -> CaseDetailOut:
    """查看一个案件的完整信息（完整身份证号、电话）：每次调用都记入审计日志。"""
    audit.record(session, user=user, action="api_view_person", target=case.person_id,
                 detail=f"案件 {case.id} {case.code}")
    return _detail(CaseView.of(case, masker_for(request, full=True)), case_extras(request, session, case))


def _register(action: Action) -> None:
    model = action.model

    def endpoint(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope, masker: MaskerDep,
                 payload: model) -> CaseDetailOut:  # type: ignore[valid-type]
        try:
            updated = apply(session, name=action.name, case=case, user=user, payload=payload,
                            attachment_codes=required_codes(request), city_amount=city_amount(request))
        except ConflictError:
            session.rollback()
            raise
        session.flush()
        fresh = crud.get_case(session, case_id=updated.id, region=user.region)
        session.refresh(fresh)
        return _detail(CaseView.of(fresh, masker), case_extras(request, session, fresh))

    endpoint.__name__ = f"api_case_{action.name.replace('-', '_')}"
    endpoint.__doc__ = f"{action.label}（需带上看到的 version；版本不一致时返回 409）。"
    router.add_api_route(f"/cases/{{case_id}}/{action.name}", endpoint, methods=["POST"],
                         dependencies=allow(*action.roles), response_model=CaseDetailOut,
                         name=f"api_case_{action.name}")


for _action in ACTIONS.values():
    _register(_action)
