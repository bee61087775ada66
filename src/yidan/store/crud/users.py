"""Accounts and API tokens: data access only (hashing lives in yidan.web.security)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidan.errors import ConfigError, NotFoundError
from yidan.store.crud import sessions as web_sessions
from yidan.store.models import ROLES, ApiToken, User, utcnow
from yidan.store.roles import REGION_LENGTH


def check_role_region(role: str, region: str) -> None:
    if role not in ROLES:
        raise ConfigError(
            f"未知角色：{role}", hint="可用角色：" + "、".join(f"{k}（{v}）" for k, v in ROLES.items())
        )
    want = REGION_LENGTH[role]
    ok = region.isdigit() and (len(region) == want if want else len(region) in (2, 4, 6))
    if not ok:
        need = f"{want} 位" if want else "2、4 或 6 位"
        raise ConfigError(
            f"角色 {ROLES[role]} 的地区代码应为 {need}数字：{region}",
            hint="省 2 位（如 43），市州 4 位（如 4301），县市区 6 位（如 430124）。",
        )


def create_user(
    session: Session, *, username: str, password_hash: str, role: str, region: str, display_name: str = ""
) -> User:
    check_role_region(role, region)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ConfigError(f"账号已存在：{username}", hint="换一个账号名，或用 yidan user passwd 重设其密码。")
    user = User(
        username=username, display_name=display_name or username, password_hash=password_hash,
        role=role, region=region,
    )
    session.add(user)
    session.flush()
    return user


def get_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def require_by_username(session: Session, *, username: str) -> User:
    user = get_by_username(session, username=username)
    if user is None:
        raise NotFoundError(f"账号不存在：{username}", hint="用 yidan user add 创建账号。")
    return user


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def set_password(session: Session, *, user: User, password_hash: str) -> int:
    """A new password ends every open session of the account; returns how many were ended."""
    user.password_hash = password_hash
    user.failed_logins = 0
    user.locked_until = None
    return web_sessions.end_all(session, user=user, reason="password")


def set_disabled(session: Session, *, user: User, disabled: bool) -> None:
    """Disabling an account ends its sessions at once (its API tokens stop working too)."""
    user.disabled = disabled
    if disabled:
        web_sessions.end_all(session, user=user, reason="disabled")


def in_region(session: Session, *, region: str) -> list[User]:
    """Accounts whose region lies inside `region` (an administrator manages those)."""
    return list(session.scalars(select(User).where(User.region.startswith(region, autoescape=True))
                                .order_by(User.region, User.username)))


def add_token(session: Session, *, user: User, name: str, token_hash: str) -> ApiToken:
    token = ApiToken(user_id=user.id, name=name, token_hash=token_hash)
    session.add(token)
    session.flush()
    return token


def user_by_token_hash(session: Session, *, token_hash: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked.is_(False)))
    if token is None or token.user.disabled:
        return None
    token.last_used_at = utcnow()
    return token.user


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_token(session: Session, *, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError(f"令牌不存在：{token_id}", hint="刷新页面后重试。")
    token.revoked = True
