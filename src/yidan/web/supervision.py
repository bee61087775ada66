"""What the case pages, the list and the API need from supervision (deadlines, attachments).

Kept out of the case routes so that they each gain one line: the list's filter dependency
makes sure every published round has its due dates (`DuesReady`), and the case page adds
`case_extras(...)` to its context.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request

from yidan.store import aid_casework, attachments, deadlines
from yidan.store.errors import ActionError
from yidan.store.models import Case
from yidan.web.deps import SessionDep
from yidan.web.masking import scrub_text


def dues_ready(request: Request, session: SessionDep) -> None:
    """Rounds published without dates (the CLI, an older version) get the defaults before a list reads them."""
    deadlines.ensure(session, settings=request.app.state.settings.supervision)


DuesReady = Annotated[None, Depends(dues_ready)]


def due_filter(value: str | None) -> str | None:
    if value is None or value in deadlines.DUE_FILTERS:
        return value
    raise ActionError(f"期限筛选无效：{value[:20]}", hint="可选：overdue（已超期）、soon（7 天内到期）。")


def file_store(request: Request) -> attachments.FileStore:
    settings = request.app.state.settings
    return attachments.FileStore(settings.data_dir / "attachments", max_bytes=settings.supervision.attachment_max_bytes)


def required_codes(request: Request) -> tuple[str, ...]:
    return tuple(request.app.state.settings.supervision.attachment_required)


def city_amount(request: Request) -> Decimal:
    """Aid closures above this wait for the city (settings: supervision.city_confirm_amount)."""
    return Decimal(request.app.state.settings.supervision.city_confirm_amount)


def case_extras(request: Request, session: Any, case: Case) -> dict[str, Any]:
    """The case page's due date, attachments (names with any ID or phone masked) and whether 销号 still
    waits for a file."""
    deadlines.ensure(session, settings=request.app.state.settings.supervision)
    files = attachments.for_case(session, case_id=case.id)
    shown = [{"id": a.id, "purpose": a.purpose, "filename": scrub_text(a.filename), "media_type": a.media_type,
              "size": a.size, "sha256": a.sha256, "uploaded_at": a.uploaded_at} for a in files]
    return {"due": deadlines.dues_for(session, [case]).get(case.id), "attachments": shown,
            "aid": aid_shown(session, case, threshold=city_amount(request), names={a.id: scrub_text(a.filename) for a in files}),
            "attachment_purposes": attachments.PURPOSES,
            "attachment_limit": attachments.megabytes(request.app.state.settings.supervision.attachment_max_bytes),
            "attachment_needed": case.code in required_codes(request) and not files}


def aid_shown(session: Any, case: Case, *, threshold: Decimal, names: dict[int, str]) -> dict[str, Any] | None:
    """The aid casework of a case (store/aid_casework.py) as pages and the API show it: voucher numbers,
    notes and actors through the text scrubber, like the history."""
    v = aid_casework.view(session, case, threshold=threshold)
    if v is None:
        return None
    rows = [{"kind": r.kind, "kind_label": r.kind_label, "amount": r.amount, "on_date": r.on_date,
             "voucher_no": scrub_text(r.voucher_no), "note": scrub_text(r.note), "actor": r.actor,
             "attachment_id": r.attachment_id, "attachment": names.get(r.attachment_id or 0), "created_at": r.created_at}
            for r in v.records]
    return {"payment_due": v.payment_due, "recovery_due": v.recovery_due, "paid": v.paid, "recovered": v.recovered,
            "records": rows, "linked": v.linked, "responsible": v.responsible, "needs_city": v.needs_city, "city_confirm_amount": v.threshold,
            "confirmation": v.confirmation, "can_pay": case.code in aid_casework.PAYMENT_CODES,
            "can_recover": case.code in aid_casework.RECOVERY_CODES}


def returned_to(session: Any, *, region: str, limit: int = 20) -> list[Case]:
    """Cases whose 销号 request the city sent back and that are still open (the county's to-do)."""
    from sqlalchemy import select

    from yidan.store.crud.cases import in_region
    from yidan.store.models import CLOSED_STATES, CaseEvent

    last = (select(CaseEvent.kind).where(CaseEvent.case_id == Case.id).order_by(CaseEvent.id.desc()).limit(1)
            .correlate(Case).scalar_subquery())
    stmt = (select(Case).where(in_region(region), Case.state.not_in(CLOSED_STATES), last == "closure_rejected")
            .order_by(Case.updated_at.desc()).limit(limit))
    return list(session.scalars(stmt))


def reminders(request: Request, session: Any, *, region: str) -> dict[str, Any]:
    """The home page's reminders: what falls due this week and what was returned, for a county or
    township; the counties' overdue counts for a city or the province."""
    deadlines.ensure(session, settings=request.app.state.settings.supervision)
    from yidan.store import approvals

    dues = deadlines.due_counts(session, region=region)  # one grouped query, issue 21
    out: dict[str, Any] = {"due_counts": {"overdue": dues.overdue, "soon": dues.soon}, "region_len": len(region)}
    user = getattr(request.state, "user", None)
    if user is not None and region == user.region:
        out["approvals"] = approvals.pending_for(session, user=user)
    if len(region) >= 6:
        out["returned_cases"] = returned_to(session, region=region)
    else:
        out["overdue_counties"] = dues.by_county
    return {"reminders": out}
