"""Login throttling that a stranger cannot turn against the owner.

Past the free failures, each further failure doubles the wait before the same key may try
again (1 s, 2 s, 4 s … up to `login_max_delay_seconds`), answered with HTTP 429 and
Retry-After. The keys depend on the browser:

* a browser the account has signed in from before (it holds the account's signed device
  cookie, yidan.web.sessions) counts only its own failures on that account;
* any other browser counts per (address, account), per address (one machine trying many
  accounts), and per account across all such browsers (many machines trying one account).

So a stranger hammering the province administrator's account, from one machine or many,
slows down strangers and new browsers only; the owner at her own desk signs in as usual.
An administrator lifts every wait of an account at once (page 账号与会话 or
`yidan user unlock`). Counters of unknown accounts behave exactly like those of real
ones, so waits reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from yidan.settings import AppSettings
from yidan.store.crud import logins

MAX_DOUBLINGS = 30  # 2**30 times the first delay is far past any cap


@dataclass(frozen=True)
class Throttle:
    free: int = 3
    free_per_ip: int = 20
    free_per_account: int = 10
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=1)

    @classmethod
    def of(cls, settings: AppSettings) -> Throttle:
        return cls(free=settings.login_free_failures, free_per_ip=settings.login_free_failures_per_ip,
                   free_per_account=settings.login_free_failures_per_account,
                   first_delay=timedelta(seconds=settings.login_first_delay_seconds),
                   max_delay=timedelta(seconds=settings.login_max_delay_seconds),
                   window=timedelta(seconds=settings.login_window_seconds))

    def delay(self, failures: int, free: int) -> timedelta:
        """The wait after `failures` failures of which `free` cost nothing."""
        if failures < free:
            return timedelta(0)
        seconds = self.first_delay.total_seconds() * 2 ** min(failures - free, MAX_DOUBLINGS)
        return timedelta(seconds=min(self.max_delay.total_seconds(), seconds))


def ip_key(ip: str) -> str:
    return f"ip:{ip}"


def account_key(ip: str, account: str) -> str:
    return f"acct:{ip}:{account}"


def everywhere_key(account: str) -> str:
    return f"user:{account}"


def device_key(device: str, account: str) -> str:
    return f"dev:{device}:{account}"


@dataclass(frozen=True)
class Source:
    """Who is trying: the address, and the device nonce when the browser is trusted for this account."""

    ip: str
    device: str | None = None

    def keys(self, account: str, throttle: Throttle) -> list[tuple[str, str | None, int]]:
        """(key, account it belongs to, free failures) for every counter this attempt is judged by."""
        if self.device:
            return [(device_key(self.device, account), account, throttle.free)]
        return [(account_key(self.ip, account), account, throttle.free),
                (ip_key(self.ip), None, throttle.free_per_ip),
                (everywhere_key(account), account, throttle.free_per_account)]


def blocked_until(session: Session, *, source: Source, account: str, throttle: Throttle,
                  now: datetime) -> datetime | None:
    return logins.blocked_until(session, keys=[k for k, _, _ in source.keys(account, throttle)], now=now)


def record_failure(session: Session, *, source: Source, account: str, throttle: Throttle,
                   now: datetime) -> datetime | None:
    """Count a failed sign-in; returns until when this source must now wait for this account (if it must)."""
    logins.prune(session, now=now, window=throttle.window)
    waits = []
    for key, owner, free in source.keys(account, throttle):
        row = logins.record_failure(session, key=key, account=owner, now=now, window=throttle.window,
                                    delay=partial(throttle.delay, free=free))
        if row.blocked_until is not None:
            waits.append(row.blocked_until)
    return max(waits, default=None)


def record_success(session: Session, *, source: Source, account: str, throttle: Throttle) -> None:
    """The owner got in: this source's own count starts again. The address's count and the account's
    count across strangers' browsers do not (an attacker must not reset them with his own account)."""
    logins.forget(session, keys=[source.keys(account, throttle)[0][0]])


def unlock(session: Session, *, account: str) -> int:
    return logins.forget_account(session, account=account)


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{max(1, seconds)} 秒"
    return f"{-(-seconds // 60)} 分钟"
