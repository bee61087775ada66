"""Cases: the county's list and the actions that work it.

Every read takes the user's `region` and filters by prefix, so a case outside it is
simply not found (the web answers 404, never 403, for objects outside the region).
Every action takes the version the user saw; a different current version means
someone changed the case in between (optimistic locking) and raises ConflictError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, defer, selectinload
from sqlalchemy.orm.exc import StaleDataError

from yidan.contract import codes
from yidan.contract.codes import case_rule
from yidan.contract.link_decisions import DECISIONS
from yidan.errors import NotFoundError
from yidan.store import attachments, deadlines
from yidan.store.errors import ActionError, ConflictError
from yidan.store.models import CASE_STATES, Case, CaseEvent, LinkDecision, Run, User, utcnow

TEAM_ROLES = ("教育干部", "教师", "村干部")
FINDING_AID = tuple(c for c, f in codes.FINDING_CODES.items() if f.family == "aid")
EARLIEST_DATE = date(2014, 1, 1)  # no verification or visit of this system's cases is older (精准扶贫 began 2014)


@dataclass
class CaseFilter:
    code: str | None = None
    township: str | None = None
    village: str | None = None
    school_code: str | None = None
    state: str | None = None
    q: str | None = None  # a name fragment, or a whole finding key where `q_keys`
    q_keys: bool = True  # False for roles that must not test a guessed ID through a finding key
    county: str | None = None
    person_id: str | None = None  # the exact ID (workbook import)
    id_query: str | None = None  # a full or partial ID typed by a user who may see IDs
    page: int = 1
    per_page: int = 50
    due: str | None = None  # overdue | soon (store/deadlines.py)
    sort: str | None = None  # "due": soonest and most overdue first


def in_region(region: str, *, ranged: bool = False):  # type: ignore[no-untyped-def]
    """Cases inside `region`: equality for a county (index-friendly), a prefix above it. `ranged` (for counts
    over a city or province): the prefix also as a range on `county` that the county indexes answer, so a city's
    counts read its own counties' index entries only (a prefix LIKE alone reads every case: SQLite's LIKE is
    case-insensitive, PostgreSQL's pattern a bound parameter). Not for ordered lists: there the planner would
    take the range and sort, where the list's own index gives its first rows in order (issue 21)."""
    if len(region) == 6:
        return Case.county == region
    if len(region) == 9:
        return Case.township == region
    if len(region) > 9:
        return Case.village == region
    inside = Case.county.startswith(region, autoescape=True)
    if ranged and region.isdigit() and not set(region) <= {"9"}:
        upper = str(int(region) + 1).zfill(len(region))  # codes are digits: '4309' -> '4310'
        return and_(Case.county >= region, Case.county < upper, inside)
    return inside


def _scoped(region: str) -> Select[Case]:
    return select(Case).where(in_region(region))


def list_cases(session: Session, *, region: str, filters: CaseFilter) -> tuple[list[Case], int]:
    stmt = _scoped(region)
    f = filters
    if f.code:
        stmt = stmt.where(Case.code == f.code)
    if f.county:
        stmt = stmt.where(Case.county.startswith(f.county, autoescape=True))
    if f.person_id:
        stmt = stmt.where(Case.person_id == f.person_id)
    if f.id_query:
        typed = f.id_query.strip().upper()
        stmt = stmt.where(Case.person_id == typed if len(typed) == 18 else Case.person_id.contains(typed, autoescape=True))
    if f.township:
        stmt = stmt.where(Case.township == f.township)
    if f.village:
        stmt = stmt.where(Case.village == f.village)
    if f.school_code:
        stmt = stmt.where(Case.school_code == f.school_code)
    if f.state == "active":
        stmt = stmt.where(Case.state.not_in(("closed", "resolved")))
    elif f.state:
        stmt = stmt.where(Case.state == f.state)
    if f.q:
        by_name = Case.name.contains(f.q, autoescape=True)
        stmt = stmt.where(by_name | (Case.finding_key == f.q) if f.q_keys else by_name)
    stmt, by_due = deadlines.apply_due(stmt, due=f.due, sort=f.sort)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, f.page)
    # not shown in lists; the person record is (head, phone, place and school names: issue 14)
    heavy = (defer(Case.link), defer(Case.team), defer(Case.evidence))
    rows = session.scalars(
        (stmt if by_due else stmt.order_by(priority_rank(), Case.county, Case.township, Case.code, Case.id))
        .options(*heavy)
        .offset((page - 1) * f.per_page).limit(f.per_page)
    )
    return list(rows), int(total)


def priority_rank():  # type: ignore[no-untyped-def]
    """未脱贫 and 返贫 children first, as in the workbook (`contract.outputs.POVERTY_ORDER` owns the order;
    publishing writes the rank on the case, and indexes cover the list's order from it)."""
    return Case.priority


def filter_options(session: Session, *, region: str) -> dict[str, list[str]]:
    """Distinct townships, villages and schools in the region (for the filter menus).

    They change only when a run is published, so callers may cache them by the latest
    published run (see `options_generation`).
    """
    out: dict[str, list[str]] = {}
    for name, col in (("township", Case.township), ("village", Case.village), ("school_code", Case.school_code)):
        stmt = select(col).where(in_region(region), col.is_not(None)).distinct()
        out[name] = sorted(v for v in session.scalars(stmt) if v)
    return out


def options_generation(session: Session) -> int:
    """Changes whenever a run is published (the cases' regions can only change then)."""
    return int(session.scalar(select(func.max(Run.id)).where(Run.status == "published")) or 0)


def get_case(session: Session, *, case_id: int, region: str) -> Case:
    case = session.scalar(
        _scoped(region).where(Case.id == case_id).options(selectinload(Case.events))
    )
    if case is None:
        raise NotFoundError(f"案件不存在或不在本地区：{case_id}", hint="回到清单重新选择。")
    return case


def check_id_query(value: str) -> str:
    """A typed ID fragment: digits (and X), at least four, at most eighteen; else a Chinese reason."""
    typed = value.strip().upper()
    if not (4 <= len(typed) <= 18) or not typed.rstrip("X").isdigit():
        raise ActionError(f"身份证号查询需要 4 到 18 位数字：{typed[:20]}", hint="输入完整身份证号，或其中连续的至少 4 位数字。")
    return typed


def _plausible(day: date, what: str) -> None:
    latest = date.today() + timedelta(days=1)  # a clerk east of UTC may already be in tomorrow
    if not (EARLIEST_DATE <= day <= latest):
        raise ActionError(f"{what}不合理：{day.isoformat()}（应在 {EARLIEST_DATE.isoformat()} 到今天之间）。",
                          hint=f"填写实际{what}，不能是将来的日期。")


def _begin(case: Case, expected_version: int, action: str | None = None) -> None:
    if case.version != expected_version:
        raise ConflictError(
            f"该案件已被他人修改（您看到的是第 {expected_version} 版，当前为第 {case.version} 版），本次操作未保存。",
            hint="刷新页面查看最新内容后再操作。",
        )
    if case.is_closed:
        raise ActionError(f"案件已{case.state_label}，不能再修改（{case.code} {case.label}）。",
                          hint="如需重新处理，请等待下次比对。")
    if action is not None and action not in case_rule(case.code).actions:
        raise ActionError(f"{case.code} {case.label}案件不适用此操作（{ACTION_LABELS.get(action, action)}）。",
                          hint="可办理：" + "、".join(ACTION_LABELS.get(a, a) for a in case_rule(case.code).actions))


ACTION_LABELS = {
    codes.VERIFY: "记录核实结论", codes.TEAM: "指派三帮一劝返小组", codes.VISIT: "登记走访", codes.RETURNED: "标记已劝返复学",
    codes.CLOSURE_REQUEST: "申请销号", codes.CLOSURE_CONFIRM: "确认销号", codes.LINK_DECISION: "复核疑似匹配",
    codes.AID_PAYMENT: "登记补发", codes.AID_RECOVERY: "登记追回",
}


def _with_note(text: str, note: str) -> str:
    return text + (f"；说明：{note.strip()}" if note and note.strip() else "")


def _event(session: Session, case: Case, user: User, kind: str, summary: str, data: dict[str, Any]) -> None:
    session.add(CaseEvent(case_id=case.id, user_id=user.id, actor=user.display_name, kind=kind, summary=summary,
                          data=data))
    case.updated_at = utcnow()


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ConflictError("该案件刚刚被他人修改，本次操作未保存。", hint="刷新页面查看最新内容后再操作。") from None


def record_verification(
    session: Session, *, case: Case, user: User, expected_version: int, conclusion: str, verified_on: date,
    note: str = "", province: str = "", ground: str = "", field: str = "",
) -> Case:
    """`ground` (政策依据) and `field` (错误的字段): what an aid conclusion needs (AID_CONCLUSION_NEEDS)."""
    from yidan.store import aid_casework

    _begin(case, expected_version, codes.VERIFY)
    allowed = case_rule(case.code).conclusions
    if conclusion not in allowed:
        raise ActionError(f"核实结论无效：{conclusion}（{case.code} {case.label}案件）", hint="可选：" + "、".join(allowed))
    if conclusion == "省外就读" and not province.strip():
        raise ActionError("核实结论为省外就读时必须填写就读省份。", hint="填写就读省份后重新提交。")
    _plausible(verified_on, "核实日期")
    aid_casework.check_conclusion(session, case, conclusion, ground=ground, field=field, province=province)
    if case.state == "open":
        case.state = "verified"
    data = {"conclusion": conclusion, "verified_on": verified_on.isoformat(), "note": note.strip(),
            "province": province.strip()}
    summary = f"核实结论：{conclusion}" + (f"（{province.strip()}）" if province.strip() else "")
    if ground.strip():
        data["ground"] = ground.strip()
        summary += f"；政策依据：{ground.strip()}"
    if field.strip():
        data["field"] = field.strip()
        summary += f"；错误的字段：{field.strip()}"
    _event(session, case, user, "verification", _with_note(f"{summary}，核实日期 {verified_on.isoformat()}", note), data)
    _flush(session)
    return case


def assign_team(session: Session, *, case: Case, user: User, expected_version: int, members: list[dict[str, str]]) -> Case:
    _begin(case, expected_version, codes.TEAM)
    named = [m for m in members if m.get("name", "").strip()]
    if len(named) != 3:
        raise ActionError(f"三帮一劝返小组需要三名成员，现填写了 {len(named)} 名。", hint="填写三名成员的姓名和身份。")
    case.team = [{"name": m["name"].strip(), "role": m.get("role", "").strip(), "phone": m.get("phone", "").strip()}
                 for m in named]
    case.state = "persuading"
    summary = "指派三帮一劝返小组：" + "、".join(f"{m['name']}（{m['role']}）" for m in case.team)
    _event(session, case, user, "team", summary, {"members": case.team})
    _flush(session)
    return case


def log_visit(session: Session, *, case: Case, user: User, expected_version: int, visited_on: date, note: str) -> Case:
    _begin(case, expected_version, codes.VISIT)
    if not note.strip():
        raise ActionError("走访记录不能为空。", hint="写明走访对象、情况和下一步。")
    _plausible(visited_on, "走访日期")
    _event(session, case, user, "visit", f"走访（{visited_on.isoformat()}）：{note.strip()}",
           {"visited_on": visited_on.isoformat(), "note": note.strip()})
    _flush(session)
    return case


def mark_returned(session: Session, *, case: Case, user: User, expected_version: int, school: str, note: str = "") -> Case:
    _begin(case, expected_version, codes.RETURNED)
    if not school.strip():
        raise ActionError("请填写复学学校。", hint="填写学校名称或学校标识码。")
    case.state = "returned"
    _event(session, case, user, "returned", _with_note(f"已劝返复学：{school.strip()}", note),
           {"school": school.strip(), "note": note})
    _flush(session)
    return case


def request_closure(session: Session, *, case: Case, user: User, expected_version: int, note: str = "",
                    attachment_codes: tuple[str, ...] = (), city_amount: Decimal | None = None) -> Case:
    """`attachment_codes`: codes whose 销号 needs a file first (settings: supervision.attachment_required);
    `city_amount`: an aid case above it waits for the city (supervision.city_confirm_amount)."""
    from yidan.store import aid_casework

    _begin(case, expected_version, codes.CLOSURE_REQUEST)
    rule = case_rule(case.code)
    note = note.strip()
    if rule.close_needs_conclusion and not has_conclusion(session, case):
        what = "复核结论或核实结论" if codes.LINK_DECISION in rule.actions else "核实结论"
        raise ActionError(f"{case.code} {case.label}案件销号前须先记录{what}，本次销号申请未保存。",
                          hint=f"先记录{what}（可选：" + "、".join(rule.conclusions) + "），再申请销号。")
    if rule.close_needs_note and not note:
        raise ActionError(f"{case.code} {case.label}案件销号须填写说明，本次销号申请未保存。",
                          hint="在说明中写明补发、追回或核实的情况（时间、金额、经办单位）。")
    attachments.require_for_closure(session, case=case, codes=attachment_codes)
    aid_casework.check_closure(session, case)
    if aid_casework.needs_city(case, city_amount):
        case.state = "closure_requested"
        case.closure_requested_by = user.id
        above = (f"（金额 {aid_casework.stake(case)} 元，超过 {city_amount} 元）"
                 if city_amount is not None and case.code in aid_casework.AID_CODES else "")
        _event(session, case, user, "closure_requested", f"申请销号，待市州确认{above}" + (f"：{note}" if note else ""),
               {"note": note})
    else:
        case.state = "closed"
        _event(session, case, user, "closed", "销号" + (f"：{note}" if note else ""), {"note": note})
    _flush(session)
    return case


def confirm_closure(
    session: Session, *, case: Case, user: User, expected_version: int, approve: bool, note: str = ""
) -> Case:
    _begin(case, expected_version, codes.CLOSURE_CONFIRM)
    if case.state != "closure_requested":
        raise ActionError(f"该案件当前状态为{case.state_label}，没有待确认的销号申请。", hint="刷新页面查看最新状态。")
    if case.closure_requested_by == user.id:
        raise ActionError("申请销号的人不能自己确认销号。", hint="请由市州的其他工作人员确认。")
    note = note.strip()
    if not approve and not note:
        raise ActionError("退回销号申请须写明理由。", hint="在说明中写明退回的原因和需要补充的材料。")
    if case.code in FINDING_AID:
        from yidan.store import audit

        audit.record(session, user=user, action="aid_closure_confirm" if approve else "aid_closure_return",
                     target=f"案件 {case.id} {case.code}", detail=note)
    if approve:
        case.state = "closed"
        _event(session, case, user, "closure_confirmed", "市州确认销号" + (f"：{note}" if note else ""), {"note": note})
    else:
        case.state = "verified"
        case.closure_requested_by = None
        _event(session, case, user, "closure_rejected", "市州退回销号申请" + (f"：{note}" if note else ""),
               {"note": note})
    _flush(session)
    return case


def decide_link(session: Session, *, case: Case, user: User, expected_version: int, decision: str, note: str = "") -> Case:
    _begin(case, expected_version)
    if case.code != "K05":
        raise ActionError(f"只有疑似匹配（K05）案件需要复核匹配，本案件为 {case.code}。", hint="回到案件页面。")
    if decision not in DECISIONS:
        raise ActionError(f"复核结论无效：{decision}", hint="可选：" + "、".join(DECISIONS))
    student_no = str(case.link.get("student_no") or "")
    if not student_no:
        raise ActionError("该案件没有候选学籍，无法复核。", hint="等待下次比对。")
    existing = session.scalar(
        select(LinkDecision).where(LinkDecision.person_id == case.person_id, LinkDecision.student_no == student_no)
    )
    if existing is None:
        session.add(LinkDecision(person_id=case.person_id, student_no=student_no, decision=decision,
                                 decided_by=user.display_name, case_id=case.id))
    else:
        existing.decision, existing.decided_by, existing.decided_on = decision, user.display_name, utcnow()
    case.state = "verified"
    _event(session, case, user, "link_decision", f"匹配复核：{decision}（学籍号 {student_no}）" + (f"：{note}" if note else ""),
           {"decision": decision, "student_no": student_no, "note": note})
    _flush(session)
    return case


def has_conclusion(session: Session, case: Case) -> bool:
    """Whether a 核实结论 or a 复核结论 was recorded on the case."""
    stmt = select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind.in_(("verification", "link_decision")))
    return bool(session.scalar(stmt))


def link_decisions(session: Session, *, region: str) -> list[LinkDecision]:
    """The reviewers' decisions on cases inside `region` (a decision belongs where its case does)."""
    stmt = (select(LinkDecision).join(Case, Case.id == LinkDecision.case_id).where(in_region(region))
            .order_by(LinkDecision.id))
    return list(session.scalars(stmt))


def state_counts(session: Session, *, region: str) -> dict[str, int]:
    stmt = (
        select(Case.state, func.count())
        .where(in_region(region, ranged=True))
        .group_by(Case.state)
    )
    counts = {state: 0 for state in CASE_STATES}
    counts.update({s: int(n) for s, n in session.execute(stmt)})
    return counts
