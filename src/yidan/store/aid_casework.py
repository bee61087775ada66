"""Aid casework (issue 15): what a county 资助中心 does with an aid case after the list arrives.

* **Money on a case**: a 补发 (payment) on a 漏助 / 少发 case, a 追回 (recovery) on money paid wrongly;
  amount to the fen, date (not in the future, not before the case's term began), voucher number and
  optionally the voucher file (an attachment of the same case). One row per record in `aid_money`,
  written into the case's history and the audit log.
* **Proof-gated closure**: each aid conclusion needs what `AID_CONCLUSION_NEEDS` says (a recorded 补发 or
  追回, a policy ground, the wrong field …); closing an aid case needs the proof of its conclusion: a
  已补发 needs 补发 covering the amount due, a 已追回 needs 追回 covering the amount to recover (for a Z02 /
  Z03 the county that paid wrongly records it on its own Z10, linked by child, term and programme).
* **The city confirms** the closure of an aid case whose amount exceeds `supervision.city_confirm_amount`.
* **Publishing**: a closed case with a recorded 补发 whose finding is still in the next run is reopened
  with the reason `UNCONFIRMED`; one whose finding is gone gets a confirmation in its history.
* **Totals** per region: 应补发 / 已补发 / 应追回 / 已追回, amount and count, summed in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from yidan.contract import aid_needs, codes
from yidan.contract.aid_needs import AID_CONCLUSION_NEEDS
from yidan.contract.codes import FINDING_CODES
from yidan.identity.terms import parse_term
from yidan.settings import SupervisionSettings
from yidan.store import audit
from yidan.store.crud import cases as crud
from yidan.store.errors import ActionError
from yidan.store.models import AID_MONEY_KINDS, AidMoney, Attachment, Case, CaseEvent, Run, User

AID_CODES = tuple(c for c, f in FINDING_CODES.items() if f.family == "aid")
PAYMENT_CODES = ("Z01", "Z06", "Z07")  # a 补发 may be recorded (漏助, 少发, 省外就读兜底)
RECOVERY_CODES = ("Z02", "Z04", "Z05", "Z06", "Z09", "Z10")  # a 追回 may be recorded
LINKED_CODES = ("Z02", "Z03")  # the county that paid wrongly recovers on its own Z10 of the same claim
OPEN_ENDED = ("其他",)  # a conclusion without proof: it cannot close these codes
PROOF_CODES = ("Z01", "Z02", "Z03", "Z04", "Z05", "Z06", "Z09", "Z10")
ZERO = Decimal("0.00")
UNCONFIRMED = "补发未在本轮发放数据中核实到"
ACTION_OF = {"payment": codes.AID_PAYMENT, "recovery": codes.AID_RECOVERY}


def _d(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.01"))


def payment_due(case_: Case) -> Decimal:
    """What must be paid on the case: the standard not paid (漏助, 兜底) or the shortfall (少发). A Z07's 兜底
    is owed only once it is verified that the child is not aided out of province (DOMAIN.md): it is what a
    closure on 已补发 must cover, and it is not counted in the totals' 应补发 (`AWAY_NOTE`)."""
    if case_.code not in PAYMENT_CODES:
        return ZERO
    return max(_d(case_.amount_expected) - _d(case_.amount_paid), ZERO)


def recovery_due(case_: Case) -> Decimal:
    """What must be recovered for the case: a Z02 / Z06 the part beyond the standard, a Z03 what the
    other county paid, a Z04 / Z05 / Z09 / Z10 all that was paid."""
    exp, paid = _d(case_.amount_expected), _d(case_.amount_paid)
    if case_.code in ("Z02", "Z06"):
        return max(paid - exp, ZERO)
    if case_.code in ("Z03", "Z04", "Z05", "Z09", "Z10"):
        return paid
    return ZERO


def stake(case_: Case) -> Decimal:
    """The amount a closure of the case settles (what the city's threshold is compared with)."""
    return max(payment_due(case_), recovery_due(case_)) or max(_d(case_.amount_expected), _d(case_.amount_paid))


def _linked_where(case_: Case) -> ColumnElement[bool]:
    return and_(Case.code == "Z10", Case.person_id == case_.person_id, Case.term == case_.term,
                Case.programme_code == case_.programme_code)


def linked(session: Session, case_: Case) -> list[dict[str, Any]]:
    """The Z10 cases of the same claim (the counties that paid wrongly) with what each recovered;
    only county, state and amounts (the case itself may lie outside the viewer's region)."""
    if case_.code not in LINKED_CODES:
        return []
    rec = (select(func.coalesce(func.sum(AidMoney.amount), 0)).where(AidMoney.case_id == Case.id,
                                                                    AidMoney.kind == "recovery")
           .correlate(Case).scalar_subquery())
    rows = session.execute(select(Case.county, Case.state, Case.amount_paid, rec).where(_linked_where(case_))
                           .order_by(Case.county))
    from yidan.store.models import CASE_STATES

    return [{"county": c, "state_label": CASE_STATES.get(s, s), "to_recover": _d(p), "recovered": _d(r)}
            for c, s, p, r in rows]


def responsible(session: Session, case_: Case) -> list[dict[str, Any]]:
    """For a Z10: the responsible county's Z02 / Z03 of the same claim (county, code, state only)."""
    if case_.code != "Z10":
        return []
    from yidan.store.models import CASE_STATES

    stmt = (select(Case.county, Case.code, Case.label, Case.state)
            .where(Case.code.in_(LINKED_CODES), Case.person_id == case_.person_id, Case.term == case_.term,
                   Case.programme_code == case_.programme_code).order_by(Case.county, Case.code))
    return [{"county": c, "code": code, "label": label, "state_label": CASE_STATES.get(st, st)}
            for c, code, label, st in session.execute(stmt)]


def sums(session: Session, case_id: int) -> dict[str, Decimal]:
    """The 补发 and 追回 recorded on one case."""
    out = {k: ZERO for k in AID_MONEY_KINDS}
    stmt = select(AidMoney.kind, func.sum(AidMoney.amount)).where(AidMoney.case_id == case_id).group_by(AidMoney.kind)
    out.update({k: _d(v) for k, v in session.execute(stmt)})
    return out


def records(session: Session, case_id: int) -> list[AidMoney]:
    return list(session.scalars(select(AidMoney).where(AidMoney.case_id == case_id).order_by(AidMoney.id)))


def parse_amount(raw: Any) -> Decimal:
    """A positive amount in yuan, to the fen at most, below a million (contract/aid_needs.py); else a
    Chinese reason."""
    problem = aid_needs.amount_problem(raw)
    if problem is not None:
        raise ActionError(problem, hint="填写以元为单位的实际金额，最多两位小数，如 625.00。")
    return Decimal(str(raw).strip().replace(",", "").replace("，", "")).quantize(Decimal("0.01"))


def attachment_ref(raw: str | int | None) -> int | None:
    """The voucher file's attachment number as typed or chosen (blank: none)."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ActionError(f"凭证附件编号无效：{text[:20]}", hint="从本案件已上传的附件中选择，或留空。")
    return int(text)


def term_start(case_: Case) -> date | None:
    try:
        return parse_term(case_.term).start()
    except Exception:  # a term label this version cannot read: only the general date check applies
        return None


def record_money(session: Session, *, case_: Case, user: User, expected_version: int, kind: str, amount: Any,
                 on_date: date, voucher_no: str, note: str = "", attachment_id: int | None = None) -> Case:
    """Record a 补发 or 追回 on an aid case (validated, in the history and the audit log)."""
    label = AID_MONEY_KINDS.get(kind)
    if label is None:
        raise ActionError(f"资金记录类别无效：{kind}", hint="可选：补发、追回。")
    crud._begin(case_, expected_version, ACTION_OF[kind])
    value = parse_amount(amount)
    crud._plausible(on_date, f"{label}日期")
    start = term_start(case_)
    if start is not None and on_date < start:
        raise ActionError(f"{label}日期 {on_date.isoformat()} 早于该问题所在学期（{case_.term}，{start.isoformat()} 开学）。",
                          hint=f"填写实际{label}日期（学期开始之后）。")
    voucher = voucher_no.strip()
    if not voucher:
        raise ActionError(f"请填写{label}凭证号。", hint="填写拨付或缴回凭证上的编号。")
    if len(voucher) > 64:
        raise ActionError(f"凭证号太长（{len(voucher)} 个字符，上限 64）。", hint="只填写凭证上的编号。")
    if attachment_id is not None:
        row = session.get(Attachment, attachment_id)
        if row is None or row.case_id != case_.id:
            raise ActionError(f"凭证附件不属于本案件：{attachment_id}", hint="先在本案件“佐证附件”处上传凭证，再选择它。")
    session.add(AidMoney(case_id=case_.id, kind=kind, amount=value, on_date=on_date, voucher_no=voucher,
                         attachment_id=attachment_id, note=note.strip(), user_id=user.id, actor=user.display_name))
    summary = f"登记{label}：{value} 元，{label}日期 {on_date.isoformat()}，凭证号 {voucher}" + (
        "（附凭证文件）" if attachment_id else "")
    data = {"kind": kind, "amount": str(value), "on_date": on_date.isoformat(), "voucher_no": voucher,
            "attachment_id": attachment_id, "note": note.strip()}
    crud._event(session, case_, user, f"aid_{kind}", crud._with_note(summary, note), data)
    audit.record(session, user=user, action=f"aid_{kind}", target=f"案件 {case_.id} {case_.code}", detail=summary)
    crud._flush(session)
    return case_


# --- conclusions and closure ---------------------------------------------------------------------------


def check_conclusion(session: Session, case_: Case, conclusion: str, *, ground: str, field: str, province: str) -> None:
    """What an aid conclusion needs (contract/aid_needs.py, the one owner), before it is recorded: the
    money values of a 已补发 / 已追回 stand for a 补发 / 追回 recorded on the case (or, for a Z02 / Z03,
    on the paying county's linked Z10)."""
    if case_.code not in AID_CODES:
        return
    kind = aid_needs.MONEY_CONCLUSIONS.get(conclusion)
    money = kind is not None and (sums(session, case_.id)["payment"] if kind == "payment" else _recovered(session, case_)) > 0
    on_record = "已登记" if money else ""
    values = {aid_needs.AMOUNT: on_record, aid_needs.ON_DATE: on_record, aid_needs.VOUCHER: on_record,
              aid_needs.GROUND: ground, aid_needs.WRONG_FIELD: field, aid_needs.PROVINCE: province}
    if not aid_needs.missing(conclusion, values):
        return
    needs = AID_CONCLUSION_NEEDS[conclusion]
    if kind == "payment":
        raise ActionError(f"记录“已补发”前须先登记补发（{needs}）。", hint="在案件页面“登记补发”处填写后，再记录核实结论。")
    if kind == "recovery":
        hint = ("由实际发放的县在其“非应发放县应追回（Z10）”线索上登记追回，再记录核实结论。" if case_.code == "Z03"
                else "在案件页面“登记追回”处填写后，再记录核实结论。")
        raise ActionError(f"记录“已追回”前须先登记追回（{needs}）。", hint=hint)
    hints = {"情况属实无需处理": "写明依据的文件和条款，如“湘教发〔2019〕12号 第三条”。",
             "数据错误": "写明哪一项数据错了，如“发放记录的身份证号”。",
             "省外已资助": "在“就读省份”和“政策依据/项目”中填写。"}
    raise ActionError(str(aid_needs.missing_reason(conclusion, values)) + "。", hint=hints.get(conclusion, "补齐后重新提交。"))


def _recovered(session: Session, case_: Case) -> Decimal:
    own = sums(session, case_.id)["recovery"]
    return own + sum((r["recovered"] for r in linked(session, case_)), ZERO)


def _last_conclusion(session: Session, case_: Case) -> dict[str, Any]:
    data = session.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case_.id, CaseEvent.kind == "verification")
                          .order_by(CaseEvent.id.desc()).limit(1))
    return dict(data or {})


def check_closure(session: Session, case_: Case) -> None:
    """The proof a closure of an aid case needs, by its latest conclusion (raises a Chinese reason)."""
    if case_.code not in PROOF_CODES:
        return
    conclusion = str(_last_conclusion(session, case_).get("conclusion") or "")
    where = f"{case_.code} {case_.label}案件"
    if conclusion in OPEN_ENDED:
        raise ActionError(f"{where}的核实结论为“{conclusion}”，没有可核对的依据，不能销号，本次销号申请未保存。",
                          hint="登记补发或追回，或改记“情况属实无需处理”（附政策依据）、“数据错误”（写明字段）后再申请销号。")
    if conclusion == "已补发":
        due, paid = payment_due(case_), sums(session, case_.id)["payment"]
        if paid < due:
            raise ActionError(f"{where}应补发 {due} 元，已登记补发 {paid} 元，补发不足，本次销号申请未保存。",
                              hint="登记其余的补发（金额、日期、凭证号）后再申请销号。")
    if conclusion == "已追回":
        due, got = recovery_due(case_), _recovered(session, case_)
        if got < due:
            raise ActionError(f"{where}应追回 {due} 元，已登记追回 {got} 元，追回不足，本次销号申请未保存。",
                              hint="登记其余的追回后再申请销号" + (
                                  "（由实际发放的县在其 Z10 线索上登记）。" if case_.code in LINKED_CODES else "。"))


def needs_city(case_: Case, threshold: Decimal | None) -> bool:
    """Whether closing the case waits for the city: an aid case above the threshold (None: the default
    setting); others by their rule."""
    if case_.code in AID_CODES:
        return stake(case_) > (SupervisionSettings().city_confirm_amount if threshold is None else threshold)
    return codes.case_rule(case_.code).city_confirms


# --- what the case page and the API show -------------------------------------------------------------------


@dataclass
class AidView:
    payment_due: Decimal
    recovery_due: Decimal
    paid: Decimal
    recovered: Decimal
    records: list[AidMoney]
    linked: list[dict[str, Any]]
    responsible: list[dict[str, Any]]  # a Z10's responsible-county cases
    needs_city: bool
    threshold: Decimal | None
    confirmation: str | None  # 补发 checked against the next run: 已核实 / 待下轮比对核实 / 未核实（已重新打开）


def view(session: Session, case_: Case, *, threshold: Decimal | None) -> AidView | None:
    if case_.code not in AID_CODES:
        return None
    s = sums(session, case_.id)
    links = linked(session, case_)
    confirmation = None
    if s["payment"] > 0:
        last = None
        for e in case_.events:
            if e.kind == "aid_confirmed":
                last = "confirmed"
            elif e.kind == "reopened" and (e.data or {}).get("reason") == "aid_unconfirmed":
                last = "unconfirmed"
            elif e.kind in ("closed", "closure_confirmed"):
                last = "closed"
        confirmation = {"confirmed": "已在下一轮比对的发放数据中核实到补发",
                        "unconfirmed": f"{UNCONFIRMED}，案件已重新打开",
                        "closed": "已销号，待下一轮比对的发放数据核实补发"}.get(last or "")
    return AidView(payment_due(case_), recovery_due(case_), s["payment"],
                   s["recovery"] + sum((r["recovered"] for r in links), ZERO), records(session, case_.id), links,
                   responsible(session, case_), needs_city(case_, threshold), threshold, confirmation)


def confirmation_queue(session: Session, *, region: str, limit: int = 200) -> list[Case]:
    """Aid closures waiting for the city in `region`, the largest amounts first."""
    stmt = (select(Case).where(crud.in_region(region), Case.code.in_(AID_CODES), Case.state == "closure_requested")
            .order_by((func.coalesce(Case.amount_expected, 0) + func.coalesce(Case.amount_paid, 0)).desc(), Case.id)
            .limit(limit))
    return list(session.scalars(stmt))


# --- publishing (called from store/publish.py) -------------------------------------------------------------


def with_payments(session: Session, case_ids: list[int]) -> set[int]:
    """Of `case_ids`, the 补发 cases with a recorded 补发 (their reopening says the 补发 was not seen)."""
    out: set[int] = set()
    for i in range(0, len(case_ids), 1000):
        chunk = case_ids[i : i + 1000]
        out.update(session.scalars(select(AidMoney.case_id).where(
            AidMoney.case_id.in_(chunk), AidMoney.kind == "payment").distinct()))
    return out


def stays_closed(session: Session, case_ids: set[int]) -> set[int]:
    """Of closed cases whose finding is back, the aid cases settled off the data: a 追回 covering the amount
    (the payment stays in the payment data after it was recovered; for a Z02 / Z03 with what the paying
    county recovered on its linked Z10) or a stated policy ground (情况属实无需处理). They are not reopened;
    a closure on a 补发 or a 数据错误 is (the data must show it). One statement per chunk of ids."""
    out: set[int] = set()
    ids = sorted(case_ids)
    for i in range(0, len(ids), 1000):
        out.update(session.scalars(_stays_closed_stmt(ids[i : i + 1000])))
    return out


def _stays_closed_stmt(chunk: list[int]) -> Any:
    ev = aliased(CaseEvent)
    last = (select(ev.case_id, func.max(ev.id).label("eid")).where(ev.case_id.in_(chunk), ev.kind == "verification")
            .group_by(ev.case_id).subquery())
    conclusion = CaseEvent.data["conclusion"].as_string()
    own = (select(AidMoney.case_id, func.sum(AidMoney.amount).label("got"))
           .where(AidMoney.case_id.in_(chunk), AidMoney.kind == "recovery").group_by(AidMoney.case_id).subquery())
    z10 = aliased(Case)
    claim = (z10.person_id, z10.term, z10.programme_code)
    other = (select(*claim, func.sum(AidMoney.amount).label("got")).join(AidMoney, AidMoney.case_id == z10.id)
             .where(z10.code == "Z10", AidMoney.kind == "recovery").group_by(*claim).subquery())
    exp, paid = func.coalesce(Case.amount_expected, 0), func.coalesce(Case.amount_paid, 0)
    due = case((Case.code.in_(("Z02", "Z06")), _pos(paid - exp)),
               (Case.code.in_(("Z03", "Z04", "Z05", "Z09", "Z10")), paid), else_=literal(0))
    got = func.coalesce(own.c.got, 0) + case((Case.code.in_(LINKED_CODES), func.coalesce(other.c.got, 0)), else_=literal(0))
    recovered = and_(conclusion == "已追回", Case.code.in_((*RECOVERY_CODES, *LINKED_CODES)), got >= due)
    return (select(Case.id)
            .join(last, last.c.case_id == Case.id)
            .join(CaseEvent, CaseEvent.id == last.c.eid)
            .outerjoin(own, own.c.case_id == Case.id)
            .outerjoin(other, and_(Case.code.in_(LINKED_CODES), other.c.person_id == Case.person_id,
                                   other.c.term == Case.term, other.c.programme_code == Case.programme_code))
            .where(Case.id.in_(chunk), Case.code.in_(AID_CODES),
                   (conclusion == "情况属实无需处理") | recovered))


def confirmations(session: Session, *, inside: ColumnElement[bool], present: set[str], run: Run, actor: str,
                  now: datetime) -> list[dict[str, Any]]:
    """History rows confirming the closed 补发 cases inside the run's coverage whose finding the run no
    longer has (the payment reached the payment data), each once per closure."""
    ev = aliased(CaseEvent)
    last_close = (select(func.max(ev.id)).where(ev.case_id == Case.id, ev.kind.in_(("closed", "closure_confirmed")))
                  .correlate(Case).scalar_subquery())
    confirmed_since = exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind == "aid_confirmed",
                                     CaseEvent.id > last_close)
    paid = exists().where(AidMoney.case_id == Case.id, AidMoney.kind == "payment")
    stmt = select(Case.id, Case.finding_key).where(inside, Case.code.in_(PAYMENT_CODES), Case.state == "closed",
                                                    paid, ~confirmed_since)
    return [{"case_id": cid, "actor": actor, "kind": "aid_confirmed",
             "summary": f"比对 {run.run_id} 的发放数据中已核实到补发（该问题已消失），销号确认", "data": {},
             "run_pk": run.id, "at": now}
            for cid, key in session.execute(stmt) if key not in present]


# --- totals -----------------------------------------------------------------------------------------------

TOTALS: tuple[tuple[str, str, str], ...] = (
    ("pay_due", "应补发", "漏助（Z01）应发未发的标准金额与少发（Z06）的差额；件数为这些案件数"),
    ("paid", "已补发", "各案件登记的补发金额合计；件数为登记了补发的案件数"),
    ("recover_due", "应追回", "重复发放（Z02，扣除他县 Z10 应追回部分）、多发（Z06）的超出部分与不符合条件、项目失效、"
                             "不在名单、非应发放县（Z04、Z05、Z09、Z10）的发放金额；件数为这些案件数"),
    ("recovered", "已追回", "各案件登记的追回金额合计；件数为登记了追回的案件数"),
)


AWAY_NOTE = ("省外就读兜底待核实（Z07）不计入应补发：学生在省外就读，须先核实其在省外未受资助，户籍县才兜底发放，"
             "核实前不是欠发的资助；核实后登记的兜底补发计入已补发。")


def _pos(expr: Any) -> Any:
    return case((expr > 0, expr), else_=literal(0))


def totals(session: Session, *, region: str, level: int) -> list[dict[str, Any]]:
    """应补发 / 已补发 / 应追回 / 已追回 (amount and count) of the aid cases in `region`, grouped by the
    first `level` digits of the county code (2 province, 4 city, 6 county), summed in SQL. Cases
    resolved by data (对账销号) are left out: the data no longer show anything to pay or recover."""
    exp, paid = func.coalesce(Case.amount_expected, 0), func.coalesce(Case.amount_paid, 0)
    # what other counties recover of each claim (their Z10s, wherever they lie): one grouped pass, joined
    z10 = aliased(Case)
    claim = (z10.person_id, z10.term, z10.programme_code)
    by_claim = (select(*claim, func.sum(z10.amount_paid).label("other")).where(z10.code == "Z10")
                .group_by(*claim).subquery())
    others = func.coalesce(by_claim.c.other, 0)
    pay_due = case((Case.code == "Z01", _pos(exp - paid)), (Case.code == "Z06", _pos(exp - paid)), else_=literal(0))
    rec_due = case((Case.code == "Z02", _pos(paid - exp - others)), (Case.code == "Z06", _pos(paid - exp)),
                   (Case.code.in_(("Z04", "Z05", "Z09", "Z10")), paid), else_=literal(0))
    key = func.substr(Case.county, 1, level)
    base = and_(crud.in_region(region), Case.code.in_(AID_CODES), Case.state != "resolved")
    joined = Case.__table__.outerjoin(by_claim, and_(
        Case.code == "Z02", by_claim.c.person_id == Case.person_id, by_claim.c.term == Case.term,
        by_claim.c.programme_code == Case.programme_code))
    away = case((and_(Case.code == "Z07", Case.state.not_in(("closed", "resolved"))), 1), else_=0)
    due = (select(key.label("k"), func.sum(pay_due), func.sum(case((pay_due > 0, 1), else_=0)),
                  func.sum(rec_due), func.sum(case((rec_due > 0, 1), else_=0)), func.sum(away))
           .select_from(joined).where(base).group_by(key))
    rows: dict[str, dict[str, Any]] = {}

    def row(k: str) -> dict[str, Any]:
        return rows.setdefault(k, {"region": k, **{f"{n}_amount": ZERO for n, _, _ in TOTALS},
                                   **{f"{n}_count": 0 for n, _, _ in TOTALS}, "away_count": 0})

    for k, pd, pc, rd, rc, aw in session.execute(due):
        r = row(k)
        r.update(pay_due_amount=_d(pd), pay_due_count=int(pc or 0), recover_due_amount=_d(rd),
                 recover_due_count=int(rc or 0), away_count=int(aw or 0))
    money = (select(key, AidMoney.kind, func.sum(AidMoney.amount), func.count(func.distinct(AidMoney.case_id)))
             .join(Case, Case.id == AidMoney.case_id).where(base).group_by(key, AidMoney.kind))
    for k, kind, amount, n in session.execute(money):
        name = "paid" if kind == "payment" else "recovered"
        row(k).update({f"{name}_amount": _d(amount), f"{name}_count": int(n)})
    return [rows[k] for k in sorted(rows)]


def workbook_figures(session: Session, *, county: str) -> dict[str, Any]:
    """The county's totals as the county workbook's 资助台账 sheet writes them (label, amount, count, what)."""
    found = totals(session, region=county, level=6)
    row = found[0] if found else None
    rows = [(label, (row or {}).get(f"{key}_amount", ZERO), (row or {}).get(f"{key}_count", 0), what)
            for key, label, what in TOTALS]
    away = (row or {}).get("away_count", 0)
    return {"rows": rows, "note": "网页应用中的登记（下载时）；不含数据销号（对账销号）的案件；金额单位为元，精确到分。",
            "z07_note": f"另有省外就读兜底待核实（Z07）{away} 件。{AWAY_NOTE}"}
