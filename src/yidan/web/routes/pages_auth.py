"""Signing in and out, API tokens of the signed-in user, and the health check."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from yidan.store.crud import sessions as web_sessions
from yidan.store.crud import users
from yidan.web.deps import ALL_ROLES, CurrentUser, SessionDep, allow
from yidan.web.guard import INT32_MAX
from yidan.web.login_guard import Throttle
from yidan.web.render import render
from yidan.web.security import MAX_USERNAME, LoginError, LoginThrottled, check_csrf, login, new_api_token
from yidan.web.sessions import (
    clear_session_cookie,
    client_ip,
    device_of,
    new_token,
    remember_device,
    session_token,
    set_session_cookie,
)

router = APIRouter(dependencies=[Depends(check_csrf)])
PUBLIC_PATHS = {"/login", "/healthz"}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) <= 2000 \
            and target.isprintable():
        return target
    return "/"


@router.get("/healthz", name="healthz")
def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/login", name="login")
def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", {"next": _safe_next(next), "user": None})


@router.post("/login", name="login_post")
def login_post(request: Request, session: SessionDep, username: Annotated[str, Form()],
               password: Annotated[str, Form()], next: Annotated[str, Form()] = "/"):
    settings = request.app.state.settings
    name = username.strip()
    try:
        user = login(session, username=name, password=password, ip=client_ip(request),
                     throttle=Throttle.of(settings), device=device_of(request))
    except LoginError as exc:
        session.commit()  # keep the failure count and the audit entry
        shown = name if len(name) <= MAX_USERNAME else ""
        page = render(request, "login.html", {"error": exc.message, "hint": exc.hint, "next": _safe_next(next),
                                              "username": shown, "user": None}, exc.status_code)
        if isinstance(exc, LoginThrottled):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    old = session_token(request)
    if old:
        web_sessions.end(session, token=old, reason="login")  # a new sign-in never reuses a session
    token = new_token()
    web_sessions.start(session, user=user, token=token, max_age=timedelta(seconds=settings.session_max_age),
                       ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    remember_device(request, response, user.id)
    return response


@router.post("/logout", dependencies=allow(*ALL_ROLES), name="logout")
def logout(request: Request, session: SessionDep):
    token = session_token(request)
    if token:
        web_sessions.end(session, token=token, reason="logout")
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.get("/account/tokens", dependencies=allow(*ALL_ROLES), name="tokens")
def tokens_page(request: Request, session: SessionDep, user: CurrentUser):
    return render(request, "tokens.html", {"tokens": users.list_tokens(session, user=user)})


@router.post("/account/tokens", dependencies=allow(*ALL_ROLES), name="tokens_new")
def tokens_new(request: Request, session: SessionDep, user: CurrentUser,
               name: Annotated[str, Form(max_length=64)] = "接口令牌"):
    plain, hashed = new_api_token()
    users.add_token(session, user=user, name=name.strip() or "接口令牌", token_hash=hashed)
    return render(request, "tokens.html", {"tokens": users.list_tokens(session, user=user), "new_token": plain})


@router.post("/account/tokens/revoke", dependencies=allow(*ALL_ROLES), name="tokens_revoke")
def tokens_revoke(session: SessionDep, user: CurrentUser, token_id: Annotated[int, Form(ge=1, le=INT32_MAX)]):
    users.revoke_token(session, user=user, token_id=token_id)
    return RedirectResponse("/account/tokens", status_code=303)
