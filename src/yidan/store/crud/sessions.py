"""Server-side browser sessions: data access only (cookies live in yidan.web.sessions).

The table keeps the SHA-256 of each cookie token, never the token, so a copy of the
database opens no browser session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, joinedload

from yidan.store.models import User, WebSession, utcnow

LAST_SEEN_EVERY = timedelta(seconds=60)  # write last_seen_at at most once a minute per session
REASONS = {"logout": "退出登录", "password": "密码已更改", "disabled": "账号已停用", "admin": "管理员结束会话",
           "login": "重新登录"}


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, *, user: User, token: str, max_age: timedelta, ip: str = "", user_agent: str = "",
          now: datetime | None = None) -> WebSession:
    now = now or utcnow()
    ws = WebSession(id=token_id(token), user_id=user.id, created_at=now, last_seen_at=now, expires_at=now + max_age,
                    ip=ip[:64], user_agent=user_agent[:255])
    session.add(ws)
    session.flush()
    return ws


def active(session: Session, *, token: str, idle: timedelta, now: datetime | None = None) -> WebSession | None:
    """The live session of this token, its last-seen time refreshed; None when unknown, revoked or expired."""
    now = now or utcnow()
    ws = session.get(WebSession, token_id(token), options=[joinedload(WebSession.user)])
    if ws is None or ws.revoked_at is not None or ws.expires_at <= now or ws.last_seen_at + idle <= now:
        return None
    if now - ws.last_seen_at >= LAST_SEEN_EVERY:
        ws.last_seen_at = now
    return ws


def end(session: Session, *, token: str, reason: str, now: datetime | None = None) -> None:
    session.execute(update(WebSession).where(WebSession.id == token_id(token), WebSession.revoked_at.is_(None))
                    .values(revoked_at=now or utcnow(), revoked_reason=reason))


def end_all(session: Session, *, user: User, reason: str, now: datetime | None = None) -> int:
    """Revoke every open session of `user`; returns how many were open."""
    result = session.execute(update(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
                             .values(revoked_at=now or utcnow(), revoked_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, *, keep: timedelta = timedelta(days=90), now: datetime | None = None) -> int:
    """Forget sessions that ended (expired or revoked) longer than `keep` ago; run at each start."""
    cutoff = (now or utcnow()) - keep
    result = session.execute(delete(WebSession).where((WebSession.expires_at < cutoff)
                                                      | (WebSession.revoked_at < cutoff)))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class SessionCount:
    user_id: int
    open: int
    last_seen: datetime | None


def open_counts(session: Session, *, user_ids: list[int], now: datetime | None = None) -> dict[int, SessionCount]:
    """Open (not revoked, not expired) sessions per user, with the latest activity."""
    now = now or utcnow()
    if not user_ids:
        return {}
    rows = session.execute(
        select(WebSession.user_id, func.count(), func.max(WebSession.last_seen_at))
        .where(WebSession.user_id.in_(user_ids), WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .group_by(WebSession.user_id)
    ).all()
    return {uid: SessionCount(uid, int(n), seen) for uid, n, seen in rows}


def list_open(session: Session, *, user: User, now: datetime | None = None) -> list[WebSession]:
    now = now or utcnow()
    return list(session.scalars(
        select(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None),
                                 WebSession.expires_at > now).order_by(WebSession.last_seen_at.desc())
    ))
