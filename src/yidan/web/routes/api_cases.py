"""JSON API for other provincial systems: the list, one case, and the case actions.

Token authentication only (Authorization: Bearer …); the same region scoping and
role rules as the pages, the same action models and services.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from yidan.contract.outputs import NEXT_STEPS
from yidan.store import audit
from yidan.store.crud import cases as crud
from yidan.store.errors import ConflictError
from yidan.store.models import Case
from yidan.web.actions import ACTIONS, Action, apply
from yidan.web.deps import ALL_ROLES, CaseInScope, CurrentUser, RegionScope, SessionDep, allow
from yidan.web.masking import mask_id, mask_phone, may_see_full
from yidan.web.render import place
from yidan.web.routes.pages_cases import FilterDep

router = APIRouter(prefix="/api", tags=["cases"])


class EventOut(BaseModel):
    at: datetime
    actor: str
    kind: str
    summary: str


class CaseOut(BaseModel):
    id: int
    finding_key: str
    code: str
    label: str
    person_id: str
    name: str | None
    term: str
    programme_code: str | None
    county: str
    township: str | None
    village: str | None
    school_code: str | None
    amount_expected: Decimal | None
    amount_paid: Decimal | None
    detail: str | None
    state: str
    state_label: str
    version: int
    # what a field team needs, from the run (contract/outputs.py); the phone masked in lists
    head_name: str | None = None
    relation: str | None = None
    phone: str | None = None
    place: str = ""  # 户籍地 as names: 县 乡镇 村
    school_name: str | None = None
    next_step: str | None = None


class CaseDetailOut(CaseOut):
    evidence: str | None
    person: dict[str, Any]
    link: dict[str, Any]
    team: list[dict[str, str]]
    events: list[EventOut]


class CaseListOut(BaseModel):
    total: int
    page: int
    items: list[CaseOut]


def _out(case: Case, full: bool) -> dict[str, Any]:
    data = {k: getattr(case, k) for k in CaseOut.model_fields if k != "state_label" and hasattr(Case, k)}
    data["state_label"] = case.state_label
    p = case.person or {}
    data.update(head_name=p.get("head_name"), relation=p.get("relation"),
                phone=p.get("phone") if full else (mask_phone(p.get("phone")) or None),
                place=place(case.county, case.township, case.village, p), school_name=p.get("school_name"),
                next_step=NEXT_STEPS.get(case.code))
    if not full:
        data["person_id"] = mask_id(case.person_id)
    return data


def _detail(case: Case, full: bool) -> CaseDetailOut:
    person = dict(case.person or {})
    if not full:
        for k in ("person_id", "id_number"):
            if person.get(k):
                person[k] = mask_id(person[k])
        if person.get("phone"):
            person["phone"] = mask_phone(person["phone"])
    return CaseDetailOut(**_out(case, full), evidence=case.evidence, person=person, link=case.link or {},
                         team=case.team or [],
                         events=[EventOut(at=e.at, actor=e.actor, kind=e.kind, summary=e.summary) for e in case.events])


@router.get("/cases", dependencies=allow(*ALL_ROLES), response_model=CaseListOut, name="api_cases")
def api_cases(session: SessionDep, region: RegionScope, filters: FilterDep) -> CaseListOut:
    """本地区的问题清单（身份证号已脱敏），可按问题代码、乡镇、村、学校、案件状态筛选。"""
    rows, total = crud.list_cases(session, region=region, filters=filters)
    return CaseListOut(total=total, page=filters.page, items=[CaseOut(**_out(c, False)) for c in rows])


@router.get("/cases/{case_id}", dependencies=allow(*ALL_ROLES), response_model=CaseDetailOut, name="api_case")
def api_case(session: SessionDep, user: CurrentUser, case: CaseInScope) -> CaseDetailOut:
    """一个案件：儿童、证据、匹配说明和全部处理记录。查看完整身份证号会记入审计日志。"""
    full = may_see_full(user.role)
    if full:
        audit.record(session, user=user, action="api_view_person", target=case.person_id,
                     detail=f"案件 {case.id} {case.finding_key}")
    return _detail(case, full)


def _register(action: Action) -> None:
    model = action.model

    def endpoint(session: SessionDep, user: CurrentUser, case: CaseInScope, payload: model) -> CaseDetailOut:  # type: ignore[valid-type]
        try:
            updated = apply(session, name=action.name, case=case, user=user, payload=payload)
        except ConflictError:
            session.rollback()
            raise
        session.flush()
        fresh = crud.get_case(session, case_id=updated.id, region=user.region)
        session.refresh(fresh)
        return _detail(fresh, may_see_full(user.role))

    endpoint.__name__ = f"api_case_{action.name.replace('-', '_')}"
    endpoint.__doc__ = f"{action.label}（需带上看到的 version；版本不一致时返回 409）。"
    router.add_api_route(f"/cases/{{case_id}}/{action.name}", endpoint, methods=["POST"],
                         dependencies=allow(*action.roles), response_model=CaseDetailOut,
                         name=f"api_case_{action.name}")


for _action in ACTIONS.values():
    _register(_action)
