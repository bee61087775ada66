"""Failed sign-in counters (the login throttle's data); the policy lives in yidan.web.login_guard."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from yidan.store.models import LoginThrottle


def blocked_until(session: Session, *, keys: Sequence[str], now: datetime) -> datetime | None:
    """The latest time any of `keys` is blocked until, if one is blocked now."""
    rows = session.scalars(select(LoginThrottle.blocked_until).where(LoginThrottle.key.in_(list(keys)),
                                                                     LoginThrottle.blocked_until > now)).all()
    return max((r for r in rows if r is not None), default=None)


def record_failure(session: Session, *, key: str, account: str | None, now: datetime, window: timedelta,
                   delay: Callable[[int], timedelta]) -> LoginThrottle:
    """Count one failure for `key` (forgetting failures older than `window`); `delay(failures)` sets the wait."""
    _insert_missing(session, key=key, account=account, now=now)
    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.last_failure_at + window <= now:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    wait = delay(row.failures)
    row.blocked_until = now + wait if wait > timedelta(0) else None
    return row


def _insert_missing(session: Session, *, key: str, account: str | None, now: datetime) -> None:
    """Create the counter unless it exists (parallel failures of one key must not collide)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LoginThrottle).values(key=key, account=account, failures=0, last_failure_at=now)
                    .on_conflict_do_nothing(index_elements=["key"]))


def forget(session: Session, *, keys: Sequence[str]) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(list(keys))))


def forget_account(session: Session, *, account: str) -> int:
    """Lift every wait on `account` (an administrator's unlock); returns how many were lifted."""
    result = session.execute(delete(LoginThrottle).where(LoginThrottle.account == account))
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, *, now: datetime, window: timedelta) -> None:
    """Drop counters whose last failure is older than the window and that block nobody."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - window,
                                                (LoginThrottle.blocked_until.is_(None))
                                                | (LoginThrottle.blocked_until < now)))


def waits_of(session: Session, *, accounts: Sequence[str], now: datetime) -> dict[str, datetime]:
    """For the administrator's page: accounts that are waiting now, until when."""
    if not accounts:
        return {}
    out: dict[str, datetime] = {}
    for account, until in session.execute(
        select(LoginThrottle.account, LoginThrottle.blocked_until)
        .where(LoginThrottle.account.in_(list(accounts)), LoginThrottle.blocked_until > now)
    ).all():
        if account is not None and until is not None and until > out.get(account, now):
            out[account] = until
    return out
