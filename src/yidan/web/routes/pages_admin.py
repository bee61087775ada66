"""The province administrator's pages: the audit log (searched and exported, the export
logged too), and accounts with their sessions — end a user's sessions, lift login waits."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from yidan.errors import NotFoundError
from yidan.store import audit
from yidan.store.crud import logins, users
from yidan.store.crud import sessions as web_sessions
from yidan.store.models import User, utcnow
from yidan.web import login_guard
from yidan.web.deps import AUDITORS, CurrentUser, RegionScope, SessionDep, allow
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.validation import MAX_PAGE

router = APIRouter(dependencies=[Depends(check_csrf)])


def audit_query(username: str | None = None, action: str | None = None, target: str | None = None,
                since: str | None = None, until: str | None = None,
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> audit.AuditQuery:
    def day(v: str | None) -> datetime | None:
        try:
            return datetime.fromisoformat(v) if v else None
        except ValueError:
            return None

    return audit.AuditQuery(username=username or None, action=action or None, target=target or None,
                            since=day(since), until=day(until), page=max(1, page))


@router.get("/audit", dependencies=allow(*AUDITORS), name="audit")
def audit_page(request: Request, session: SessionDep, region: RegionScope, q: audit.AuditQuery = Depends(audit_query)):
    entries, total = audit.search(session, region=region, query=q)
    return render(request, "audit.html", {"entries": entries, "total": total, "q": q, "actions": audit.ACTIONS,
                                          "pages": max(1, -(-total // q.per_page))})


@router.get("/audit.csv", dependencies=allow(*AUDITORS), name="audit_csv")
def audit_csv(session: SessionDep, user: CurrentUser, region: RegionScope, q: audit.AuditQuery = Depends(audit_query)):
    entries, total = audit.search(session, region=region, query=q, limit=100_000)
    audit.record(session, user=user, action="export_audit", target="audit_log", detail=f"{total} 条")
    return Response(audit.to_csv(entries), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=audit_log.csv"})


ACCOUNT_ADMINS = AUDITORS


def _managed(session: SessionDep, user_id: int, region: RegionScope) -> User:
    """An account inside the administrator's region (else not found, never forbidden)."""
    target = users.get_user(session, user_id=user_id) if 0 < user_id <= 2**31 else None
    if target is None or not target.region.startswith(region):
        raise NotFoundError(f"账号不存在：{user_id}", hint="回到“账号与会话”页选择。")
    return target


ManagedUser = Annotated[User, Depends(_managed)]


@router.get("/admin/users", dependencies=allow(*ACCOUNT_ADMINS), name="admin_users")
def users_page(request: Request, session: SessionDep, region: RegionScope, done: str = ""):
    people = users.in_region(session, region=region)
    now = utcnow()
    counts = web_sessions.open_counts(session, user_ids=[u.id for u in people], now=now)
    waits = logins.waits_of(session, accounts=[u.username for u in people], now=now)
    return render(request, "admin_users.html", {"people": people, "counts": counts, "waits": waits,
                                                "done": done[:40]})


@router.post("/admin/users/{user_id}/end-sessions", dependencies=allow(*ACCOUNT_ADMINS), name="admin_end_sessions")
def end_sessions(session: SessionDep, user: CurrentUser, target: ManagedUser):
    n = web_sessions.end_all(session, user=target, reason="admin")
    audit.record(session, user=user, action="end_sessions", target=target.username, detail=f"{n} 个会话")
    return RedirectResponse(f"/admin/users?done=ended-{target.id}", status_code=303)


@router.post("/admin/users/{user_id}/unlock", dependencies=allow(*ACCOUNT_ADMINS), name="admin_unlock")
def unlock(session: SessionDep, user: CurrentUser, target: ManagedUser):
    n = login_guard.unlock(session, account=target.username)
    audit.record(session, user=user, action="unlock_login", target=target.username, detail=f"清除 {n} 项失败计数")
    return RedirectResponse(f"/admin/users?done=unlocked-{target.id}", status_code=303)
