"""Signing in and out, API tokens of the signed-in user, and the health check."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from yidan.store.crud import users
from yidan.web.deps import ALL_ROLES, CurrentUser, SessionDep, allow
from yidan.web.render import render
from yidan.web.security import LoginError, check_csrf, login, new_api_token

router = APIRouter(dependencies=[Depends(check_csrf)])
PUBLIC_PATHS = {"/login", "/healthz"}


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/healthz", name="healthz")
def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/login", name="login")
def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", {"next": _safe_next(next), "user": None})


@router.post("/login", name="login_post")
def login_post(request: Request, session: SessionDep, username: Annotated[str, Form()],
               password: Annotated[str, Form()], next: Annotated[str, Form()] = "/"):
    try:
        user = login(session, username=username.strip(), password=password,
                     max_failed=request.app.state.settings.max_failed_logins)
    except LoginError as exc:
        session.commit()  # keep the failed-login count and the audit entry
        return render(request, "login.html", {"error": exc.message, "hint": exc.hint, "next": _safe_next(next),
                                              "username": username, "user": None}, 401)
    request.session.clear()
    request.session["uid"] = user.id
    request.session["pwh"] = user.password_hash[-16:]
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=allow(*ALL_ROLES), name="logout")
def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/tokens", dependencies=allow(*ALL_ROLES), name="tokens")
def tokens_page(request: Request, session: SessionDep, user: CurrentUser):
    return render(request, "tokens.html", {"tokens": users.list_tokens(session, user=user)})


@router.post("/account/tokens", dependencies=allow(*ALL_ROLES), name="tokens_new")
def tokens_new(request: Request, session: SessionDep, user: CurrentUser, name: Annotated[str, Form()] = "接口令牌"):
    plain, hashed = new_api_token()
    users.add_token(session, user=user, name=name.strip() or "接口令牌", token_hash=hashed)
    return render(request, "tokens.html", {"tokens": users.list_tokens(session, user=user), "new_token": plain})


@router.post("/account/tokens/revoke", dependencies=allow(*ALL_ROLES), name="tokens_revoke")
def tokens_revoke(session: SessionDep, user: CurrentUser, token_id: Annotated[int, Form()]):
    users.revoke_token(session, user=user, token_id=token_id)
    return RedirectResponse("/account/tokens", status_code=303)
