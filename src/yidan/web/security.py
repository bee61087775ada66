"""Passwords (argon2), signing in with throttling, CSRF checks, API tokens.

Passwords are hashed with argon2id (argon2-cffi) at the server cost of `PasswordHashing` in the
settings (19 MiB by default), at most `max_concurrent` at a time per process (a semaphore):
a burst of sign-ins waits its turn instead of taking 64 MiB each. Signing in does the same work for
every name: an unknown account is checked against a dummy hash, so the answer takes as
long as for a real one and says the same (no account enumeration). Names and passwords
of absurd length are refused before any work. Wrong passwords slow down the address
that typed them (yidan.web.login_guard), never the account for everyone.
API tokens are random and stored only as their SHA-256 (they carry 256 bits of
entropy, so a fast hash is enough and lookups stay indexed).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import unicodedata
from datetime import datetime

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from yidan.errors import YidanError
from yidan.settings import PasswordHashing
from yidan.store import audit
from yidan.store.crud import users
from yidan.store.models import User, utcnow
from yidan.web import login_guard
from yidan.web.sessions import expected_csrf

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_USERNAME = 64  # the column's length: a longer name cannot be an account
MAX_PASSWORD = 1024
_DEFAULT = PasswordHashing()


def _make_hasher(cfg: PasswordHashing) -> PasswordHasher:
    return PasswordHasher(time_cost=cfg.time_cost, memory_cost=cfg.memory_kib, parallelism=cfg.parallelism,
                          type=Type.ID)


_hasher = _make_hasher(_DEFAULT)
_slots = threading.BoundedSemaphore(_DEFAULT.max_concurrent)
_dummy: dict[int, str] = {}  # one dummy hash per hasher (tests swap in a cheaper one)
WEAK_PASSWORDS = {"", "admin", "password", "123456", "change-me", "yidan", "demo", "12345678", "password1"}


class LoginError(YidanError):
    """Wrong account or password, a disabled account, or a name that cannot be an account."""

    status_code = 401


class LoginRefused(LoginError):
    """The form itself is unacceptable (a name or password of absurd length, control characters)."""

    status_code = 400


class LoginThrottled(LoginError):
    """Too many failures from this address: try again after `retry_after` seconds (HTTP 429)."""

    status_code = 429

    def __init__(self, message: str, hint: str = "", *, retry_after: int) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


def configure_hashing(cfg: PasswordHashing) -> None:
    """Use the settings' argon2id cost and concurrency bound (the application factory calls this)."""
    global _hasher, _slots
    if cfg.model_dump(exclude={"max_concurrent"}) != _DEFAULT.model_dump(exclude={"max_concurrent"}):
        _hasher = _make_hasher(cfg)
    _slots = threading.BoundedSemaphore(cfg.max_concurrent)


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _slots:
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy_hash() -> str:
    key = id(_hasher)
    if key not in _dummy:
        _dummy[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy[key]


def check_password_strength(password: str) -> None:
    if password.lower() in WEAK_PASSWORDS or len(password) < 8:
        raise LoginError("密码太弱：至少 8 位，且不能是常见默认密码。", hint="换一个更长、更难猜的密码。")


def check_login_form(username: str, password: str) -> None:
    """Refuse, before any database or hashing work, what cannot be an account name or a password."""
    if not username or len(username) > MAX_USERNAME:
        raise LoginRefused(f"账号名应为 1 到 {MAX_USERNAME} 个字符。", hint="核对账号名后重新输入。")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cf") for c in username):
        raise LoginRefused("账号名中含有不可见的控制字符。", hint="手工输入账号名，不要从其他文件粘贴。")
    if len(password) > MAX_PASSWORD:
        raise LoginRefused(f"密码不能超过 {MAX_PASSWORD} 个字符。", hint="核对密码后重新输入。")


def login(session: Session, *, username: str, password: str, ip: str, throttle: login_guard.Throttle,
          device: tuple[int, str] | None = None, now: datetime | None = None) -> User:
    """The account, if the password is right and this browser need not wait.

    `device` is the (account id, nonce) of a genuine device cookie: when it belongs to this
    account the browser is judged by its own failures only (yidan.web.login_guard)."""
    check_login_form(username, password)
    now = now or utcnow()
    user = users.get_by_username(session, username=username)
    trusted = device is not None and user is not None and device[0] == user.id
    source = login_guard.Source(ip=ip, device=device[1] if trusted and device else None)
    until = login_guard.blocked_until(session, source=source, account=username, throttle=throttle, now=now)
    if until is not None:
        seconds = max(1, int((until - now).total_seconds() + 0.999))
        raise LoginThrottled(
            f"登录失败次数过多，请 {login_guard.wait_text(seconds)}后再试。",
            hint="在本人常用、以前登录过的电脑上登录不受影响；如忘记密码，请联系省级管理员重设密码，"
                 "或请其在“账号与会话”页解除等待。", retry_after=seconds)
    # the same argon2 work whether or not the account exists
    good = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    if user is not None and good:
        if user.disabled:
            raise LoginError(f"账号 {username} 已停用。", hint="请联系省级管理员。")
        login_guard.record_success(session, source=source, account=username, throttle=throttle)
        audit.record(session, user=user, action="login", target=username, detail=ip)
        return user
    wait = login_guard.record_failure(session, source=source, account=username, throttle=throttle, now=now)
    audit.record(session, user=user, username=username, action="login_failed", target=username, detail=ip)
    hint = "核对账号和密码（注意大小写）后重试；忘记密码请联系省级管理员。"
    if wait is not None:
        hint = f"请 {login_guard.wait_text(max(1, int((wait - now).total_seconds())))}后再试。" + hint
    raise LoginError("账号或密码错误。", hint=hint)


async def check_csrf(request: Request) -> None:
    """Every unsafe request from a browser carries the CSRF token of its session (or of its anonymous cookie)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = expected_csrf(request)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(expected.encode(), sent.encode("utf-8", "replace")):
        raise HTTPException(status_code=403, detail="表单已过期或来源不可信（CSRF 校验失败），请刷新页面后重试。")


def new_api_token() -> tuple[str, str]:
    """A fresh token and the hash stored for it."""
    plain = "yd_" + secrets.token_urlsafe(32)
    return plain, token_hash(plain)


def token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8", "replace")).hexdigest()
