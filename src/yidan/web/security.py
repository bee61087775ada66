"""Passwords (argon2), login with lockout, CSRF tokens, API tokens.

Passwords are hashed with argon2id (argon2-cffi). After `max_failed_logins` wrong
passwords an account is locked for LOCK_MINUTES, and the same Chinese message is
given for an unknown account and a wrong password (no account enumeration).
API tokens are random and stored only as their SHA-256 (they carry 256 bits of
entropy, so a fast hash is enough and lookups stay indexed).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from yidan.errors import YidanError
from yidan.store import audit
from yidan.store.crud import users
from yidan.store.models import User, utcnow

LOCK_MINUTES = 15
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_hasher = PasswordHasher()
WEAK_PASSWORDS = {"", "admin", "password", "123456", "change-me", "yidan", "demo"}


class LoginError(YidanError):
    """Wrong account or password, or a locked / disabled account."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str) -> None:
    if password.lower() in WEAK_PASSWORDS or len(password) < 8:
        raise LoginError("密码太弱：至少 8 位，且不能是常见默认密码。", hint="换一个更长、更难猜的密码。")


def login(session: Session, *, username: str, password: str, max_failed: int) -> User:
    user = users.get_by_username(session, username=username)
    bad = LoginError("账号或密码错误。", hint=f"连续输错 {max_failed} 次账号将被锁定 {LOCK_MINUTES} 分钟。")
    if user is None:
        audit.record(session, user=None, username=username, action="login_failed", target=username)
        raise bad
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise LoginError(
            f"账号 {username} 因多次密码错误已被锁定，{LOCK_MINUTES} 分钟内不能登录。",
            hint="稍后再试，或请管理员用 yidan user passwd 重设密码。",
        )
    if user.disabled:
        raise LoginError(f"账号 {username} 已停用。", hint="请联系省级管理员。")
    if not verify_password(user.password_hash, password):
        lock = now + timedelta(minutes=LOCK_MINUTES) if user.failed_logins + 1 >= max_failed else None
        users.record_failed_login(session, user=user, lock_until=lock)
        audit.record(session, user=user, action="login_failed", target=username)
        raise bad
    users.record_good_login(session, user=user)
    audit.record(session, user=user, action="login", target=username)
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    """Every unsafe request from a browser session carries the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(status_code=403, detail="表单已过期或来源不可信（CSRF 校验失败），请刷新页面后重试。")


def new_api_token() -> tuple[str, str]:
    """A fresh token and the hash stored for it."""
    plain = "yd_" + secrets.token_urlsafe(32)
    return plain, token_hash(plain)


def token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
