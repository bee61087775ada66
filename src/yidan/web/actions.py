"""The case actions, shared by the pages (form posts) and the JSON API.

Each action has one input model; the page reads it from the form, the API from the
JSON body, and both call `apply` so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yidan.contract.codes import CLOSURE_REQUEST
from yidan.store.crud import cases as crud
from yidan.store.models import Case, User
from yidan.web.deps import CASE_WORKERS, CLOSURE_CONFIRMERS, LINK_REVIEWERS


class VersionedIn(BaseModel):
    version: int = Field(description="客户端看到的案件版本号（乐观锁）")


class VerificationIn(VersionedIn):
    conclusion: str = Field(description="核实结论，如 省外就读、因残免学、失联")
    verified_on: date
    province: str = ""
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
                                    verified_on=p.verified_on, note=p.note, province=p.province)


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
    )
}


def apply(session: Session, *, name: str, case: Case, user: User, payload: Any,
          attachment_codes: tuple[str, ...] = ()) -> Case:
    """`attachment_codes`: codes whose 销号 needs a file first (settings: supervision.attachment_required)."""
    if name == CLOSURE_REQUEST:
        return crud.request_closure(session, case=case, user=user, expected_version=payload.version, note=payload.note,
                                    attachment_codes=attachment_codes)
    return ACTIONS[name].call(session, case, user, payload)
