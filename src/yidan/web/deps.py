"""The dependencies every route is built from (Annotated, in one place).

* `SessionDep` — a database session per request, committed when the route returns.
* `CurrentUser` — the signed-in user: a Bearer API token under /api, the server-side
  session named by the session cookie elsewhere (yidan.web.sessions; cookies are never
  accepted by the API, so it needs no CSRF).
* `Allow(*roles)` — a route dependency stating who may call the route; the
  authorisation matrix test reads it from `app.routes`, so no route escapes the table.
* `RegionScope`, `CaseInScope`, `RunInScope`, `RegionParam` — objects outside the
  user's region are not found (404), never forbidden, so IDs cannot be probed. The region
  is the user's own code: a county sees its county, a city its counties, a province its
  province (every query filters by it; see `store/crud/cases.in_region`).
* `MaskerDep` — how personal data is shown to this user (`web/masking.py`): masked, unless
  a route reveals one record after writing the audit log (`masker_for(request, full=True)`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from yidan.store import roles
from yidan.store.crud import cases as case_crud
from yidan.store.crud import runs as run_crud
from yidan.store.crud import sessions as web_sessions
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import Case, Run, User
from yidan.store.roles import ROLES
from yidan.web.masking import FULL_RECORD_ROLES, Masker
from yidan.web.security import token_hash
from yidan.web.sessions import session_token

# the role groups of the route guards, owned by store/roles.py
ALL_ROLES, CASE_WORKERS, LINK_REVIEWERS = roles.ALL_ROLES, roles.CASE_WORKERS, roles.LINK_REVIEWERS
CLOSURE_CONFIRMERS, RUN_VIEWERS, RUN_ADMINS = roles.CLOSURE_CONFIRMERS, roles.RUN_VIEWERS, roles.RUN_ADMINS
AUDITORS, WORKBOOK_USERS = roles.AUDITORS, roles.WORKBOOK_USERS
REVEALERS = FULL_RECORD_ROLES  # may ask for a full record (audited)


@dataclass(frozen=True)
class UserView:
    """What pages show of the signed-in user; a plain copy that outlives the request's session."""

    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    region: str

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(user.id, user.username, user.display_name, user.role, user.role_label, user.region)


class LoginRequired(Exception):
    """Raised for a browser request without a valid session; answered by a redirect to /login."""


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessions) as session:
        yield session


# scope="function": commit before the response is sent, so the page a redirect leads to sees the change
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def current_user(request: Request, session: SessionDep) -> User:
    if is_api(request):
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        user = users.user_by_token_hash(session, token_hash=token_hash(token.strip())) if scheme.lower() == "bearer" else None
        if user is None:
            raise HTTPException(401, "需要有效的接口令牌（Authorization: Bearer …）。",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.user = UserView.of(user)
        return user
    user = session_user(request, session)
    if user is None:
        raise LoginRequired()
    request.state.user = UserView.of(user)
    return user


def session_user(request: Request, session: Session) -> User | None:
    """The user of the browser's server-side session, if it is open and the account enabled."""
    token = session_token(request)
    if token is None:
        return None
    settings = request.app.state.settings
    ws = web_sessions.active(session, token=token, idle=timedelta(seconds=settings.session_idle_seconds))
    if ws is None:
        return None
    if ws.user.disabled:
        web_sessions.end_all(session, user=ws.user, reason="disabled")
        return None
    return ws.user


CurrentUser = Annotated[User, Depends(current_user)]


class Allow:
    """Route dependency: only these roles may call the route (others get 403)."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = roles

    def __call__(self, user: CurrentUser) -> User:
        if user.role not in self.roles:
            raise HTTPException(403, f"您的角色（{user.role_label}）无权进行此操作。")
        return user

    def __repr__(self) -> str:
        return f"Allow{self.roles}"


def allow(*roles: str) -> list:
    return [Depends(Allow(*roles))]


def region_scope(user: CurrentUser) -> str:
    return user.region


RegionScope = Annotated[str, Depends(region_scope)]


def case_in_scope(case_id: int, session: SessionDep, region: RegionScope) -> Case:
    return case_crud.get_case(session, case_id=case_id, region=region)


CaseInScope = Annotated[Case, Depends(case_in_scope)]


def run_in_scope(run_pk: int, session: SessionDep, region: RegionScope) -> Run:
    return run_crud.get_run(session, run_pk=run_pk, region=region)


RunInScope = Annotated[Run, Depends(run_in_scope)]


def region_param(region: str, user: CurrentUser) -> str:
    from yidan.errors import NotFoundError

    if not region.isdigit() or not region.startswith(user.region):
        raise NotFoundError(f"地区不存在或不在您的权限范围内：{region}", hint="从仪表板逐级进入。")
    return region


RegionParam = Annotated[str, Depends(region_param)]


def masker_for(request: Request, *, full: bool = False) -> Masker:
    """The masker of this instance; `full=True` only in routes that audit the reveal."""
    secret: str = request.app.state.secret  # the instance's random secret (never a constant: keys stay opaque)
    return Masker(full=full, key=hashlib.sha256(f"yidan-mask|{secret}".encode()).digest())


def masked(request: Request) -> Masker:
    return masker_for(request)


MaskerDep = Annotated[Masker, Depends(masked)]
