"""The case actions, shared by the pages (form posts) and the JSON API.

Each action has one input model; the page reads it from the form, the API from the
JSON body, and both call `apply` so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yidan.contract.codes import AID_PAYMENT, AID_RECOVERY, CLOSURE_REQUEST
from yidan.store import aid_casework
from yidan.store.crud import cases as crud
from yidan.store.models import Case, User
from yidan.web.deps import CASE_WORKERS, CLOSURE_CONFIRMERS, LINK_REVIEWERS


class VersionedIn(BaseModel):
    version: int = Field(description="客户端看到的案件版本号（乐观锁）")


class VerificationIn(VersionedIn):
    conclusion: str = Field(description="核实结论，如 省外就读、因残免学、失联；资助案件如 已补发、已追回")
    verified_on: date
    province: str = ""
    note: str = ""
    ground: str = Field("", description="政策依据（资助案件“情况属实无需处理”必填；“省外已资助”填省外资助项目）")
    field: str = Field("", description="错误的字段（资助案件“数据错误”必填）")


class AidMoneyIn(VersionedIn):
    amount: Decimal = Field(description="金额（元，最多两位小数），如 625.00")
    on_date: date = Field(description="补发或追回的日期（不早于该学期开学，不晚于今天）")
    voucher_no: str = Field(description="凭证号")
    attachment_id: str = Field("", description="凭证文件：本案件已上传附件的编号（可选）")
    note: str = ""


class TeamIn(VersionedIn):
    member1_name: str = ""
    member1_role: str = "教育干部"
    member1_phone: str = ""
    member2_name: str = ""
    member2_role: str = "教师"
    member2_phone: str = ""
    member3_name: str = ""
    member3_role: str = "村干部"
    member3_phone: str = ""


class VisitIn(VersionedIn):
    visited_on: date
    note: str


class ReturnedIn(VersionedIn):
    school: str
    note: str = ""


class ClosureRequestIn(VersionedIn):
    note: str = ""


class ClosureConfirmIn(VersionedIn):
    approve: bool
    note: str = ""


class LinkDecisionIn(VersionedIn):
    decision: str = Field(description="确认同一人 / 不是同一人")
    note: str = ""


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    model: type[VersionedIn]
    roles: tuple[str, ...]
    call: Callable[..., Case]


def _verification(s: Session, case: Case, user: User, p: VerificationIn) -> Case:
    return crud.record_verification(s, case=case, user=user, expected_version=p.version, conclusion=p.conclusion,
                                    verified_on=p.verified_on, note=p.note, province=p.province, ground=p.ground,
                                    field=p.field)


def _money(kind: str) -> Callable[..., Case]:
    def call(s: Session, case: Case, user: User, p: AidMoneyIn) -> Case:
        return aid_casework.record_money(s, case_=case, user=user, expected_version=p.version, kind=kind,
                                         amount=p.amount, on_date=p.on_date, voucher_no=p.voucher_no, note=p.note,
                                         attachment_id=aid_casework.attachment_ref(p.attachment_id))
    return call


def _team(s: Session, case: Case, user: User, p: TeamIn) -> Case:
    members = [{"name": getattr(p, f"member{i}_name"), "role": getattr(p, f"member{i}_role"),
                "phone": getattr(p, f"member{i}_phone")} for i in (1, 2, 3)]
    return crud.assign_team(s, case=case, user=user, expected_version=p.version, members=members)


def _visit(s: Session, case: Case, user: User, p: VisitIn) -> Case:
    return crud.log_visit(s, case=case, user=user, expected_version=p.version, visited_on=p.visited_on, note=p.note)


def _returned(s: Session, case: Case, user: User, p: ReturnedIn) -> Case:
    return crud.mark_returned(s, case=case, user=user, expected_version=p.version, school=p.school, note=p.note)


def _closure_request(s: Session, case: Case, user: User, p: ClosureRequestIn) -> Case:
    return crud.request_closure(s, case=case, user=user, expected_version=p.version, note=p.note)


def _closure_confirm(s: Session, case: Case, user: User, p: ClosureConfirmIn) -> Case:
    return crud.confirm_closure(s, case=case, user=user, expected_version=p.version, approve=p.approve, note=p.note)


def _link_decision(s: Session, case: Case, user: User, p: LinkDecisionIn) -> Case:
    return crud.decide_link(s, case=case, user=user, expected_version=p.version, decision=p.decision, note=p.note)


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("verification", "记录核实结论", VerificationIn, CASE_WORKERS, _verification),
        Action("team", "指派三帮一劝返小组", TeamIn, CASE_WORKERS, _team),
        Action("visit", "登记走访", VisitIn, CASE_WORKERS, _visit),
        Action("returned", "标记已劝返复学", ReturnedIn, CASE_WORKERS, _returned),
        Action("closure-request", "申请销号", ClosureRequestIn, CASE_WORKERS, _closure_request),
        Action("closure-confirm", "确认销号", ClosureConfirmIn, CLOSURE_CONFIRMERS, _closure_confirm),
        Action("link-decision", "复核疑似匹配", LinkDecisionIn, LINK_REVIEWERS, _link_decision),
        Action(AID_PAYMENT, "登记补发", AidMoneyIn, CASE_WORKERS, _money("payment")),
        Action(AID_RECOVERY, "登记追回", AidMoneyIn, CASE_WORKERS, _money("recovery")),
    )
}


def apply(session: Session, *, name: str, case: Case, user: User, payload: Any,
          attachment_codes: tuple[str, ...] = (), city_amount: Decimal | None = None) -> Case:
    """`attachment_codes`: codes whose 销号 needs a file first (settings: supervision.attachment_required);
    `city_amount`: an aid case above it waits for the city (settings: supervision.city_confirm_amount)."""
    if name == CLOSURE_REQUEST:
        return crud.request_closure(session, case=case, user=user, expected_version=payload.version, note=payload.note,
                                    attachment_codes=attachment_codes, city_amount=city_amount)
    return ACTIONS[name].call(session, case, user, payload)
