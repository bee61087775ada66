"""Login throttling that a stranger cannot turn against the owner.

Failures are counted per (address, account) and per address, never per account alone:
past the free failures, each further one doubles the wait before that key may try again
(1 s, 2 s, 4 s … up to `login_max_delay_seconds`), answered with HTTP 429 and Retry-After.
A stranger hammering the province administrator's account from another machine only
slows himself down; the owner at her own desk signs in as usual. An administrator lifts
an account's waits at once (page 账号与会话 or `yidan user unlock`). Counters of unknown
accounts behave exactly like those of real ones, so waits reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from yidan.settings import AppSettings
from yidan.store.crud import logins

MAX_DOUBLINGS = 30  # 2**30 s is far past any cap; keeps timedelta in range


@dataclass(frozen=True)
class Throttle:
    free: int = 3
    free_per_ip: int = 20
    max_delay: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=1)

    @classmethod
    def of(cls, settings: AppSettings) -> Throttle:
        return cls(free=settings.login_free_failures, free_per_ip=settings.login_free_failures_per_ip,
                   max_delay=timedelta(seconds=settings.login_max_delay_seconds),
                   window=timedelta(seconds=settings.login_window_seconds))

    def delay(self, failures: int, free: int) -> timedelta:
        """The wait after `failures` failures of which `free` cost nothing."""
        if failures < free:
            return timedelta(0)
        return min(self.max_delay, timedelta(seconds=2 ** min(failures - free, MAX_DOUBLINGS)))


def ip_key(ip: str) -> str:
    return f"ip:{ip}"


def account_key(ip: str, account: str) -> str:
    return f"acct:{ip}:{account}"


def blocked_until(session: Session, *, ip: str, account: str, now: datetime) -> datetime | None:
    return logins.blocked_until(session, keys=[ip_key(ip), account_key(ip, account)], now=now)


def record_failure(session: Session, *, ip: str, account: str, throttle: Throttle, now: datetime) -> datetime | None:
    """Count a failed sign-in; returns until when this address must now wait for this account (if it must)."""
    logins.prune(session, now=now, window=throttle.window)
    per_account = logins.record_failure(session, key=account_key(ip, account), account=account, now=now,
                                        window=throttle.window, delay=lambda n: throttle.delay(n, throttle.free))
    per_ip = logins.record_failure(session, key=ip_key(ip), account=None, now=now, window=throttle.window,
                                   delay=lambda n: throttle.delay(n, throttle.free_per_ip))
    waits = [t for t in (per_account.blocked_until, per_ip.blocked_until) if t is not None]
    return max(waits, default=None)


def record_success(session: Session, *, ip: str, account: str) -> None:
    """The owner got in from here: this address's count for the account starts again (the address's own does not)."""
    logins.forget(session, keys=[account_key(ip, account)])


def unlock(session: Session, *, account: str) -> int:
    return logins.forget_account(session, account=account)


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{max(1, seconds)} 秒"
    return f"{-(-seconds // 60)} 分钟"
