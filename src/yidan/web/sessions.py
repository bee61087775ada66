"""Browser sessions on the server: the cookie carries only a random 256-bit token.

* `yidan_session` — set at sign-in; the token's SHA-256 names a row of `web_sessions`
  (yidan.store.crud.sessions), which says who it is, when it expires and whether it was
  revoked (logout, password change, account disabled, an administrator). Nothing of the
  user or the password is in the cookie, so a cookie forged with any key opens nothing.
* `yidan_anon` — a random token for a visitor not signed in, only so that the sign-in
  form carries a CSRF token bound to this browser.
* `yidan_device` — set at sign-in: the account's id, a random nonce and their HMAC. A
  browser holding it for an account is one the owner used, and the login throttle
  (yidan.web.login_guard) judges it by its own failures only.
* CSRF tokens are an HMAC of the cookie's token under the instance's secret
  (yidan.store.instance): nothing to store, different for every session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import Request
from fastapi.responses import Response

SESSION_COOKIE = "yidan_session"
ANON_COOKIE = "yidan_anon"
DEVICE_COOKIE = "yidan_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _cookie(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and _TOKEN.match(value) else None


def session_token(request: Request) -> str | None:
    """The session cookie's token, if it has the shape of one (anything else is no cookie)."""
    return _cookie(request, SESSION_COOKIE)


def _sign(request: Request, message: str) -> str:
    secret: str = request.app.state.secret
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser: of its session when signed in, else of its anonymous cookie."""
    token = session_token(request)
    if token:
        return _sign(request, "csrf|session|" + token)
    anon = _cookie(request, ANON_COOKIE) or getattr(request.state, "new_anon", None)
    if not anon:
        anon = new_token()
        request.state.new_anon = anon  # set on the response by `remember_anonymous`
    return _sign(request, "csrf|anon|" + anon)


def expected_csrf(request: Request) -> str | None:
    token = session_token(request)
    if token:
        return _sign(request, "csrf|session|" + token)
    anon = _cookie(request, ANON_COOKIE)
    return _sign(request, "csrf|anon|" + anon) if anon else None


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.production)


def remember_anonymous(request: Request, response: Response) -> None:
    anon = getattr(request.state, "new_anon", None)
    if anon:
        response.set_cookie(ANON_COOKIE, anon, httponly=True, samesite="strict", secure=_secure(request), path="/")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=request.app.state.settings.session_max_age, httponly=True,
                        samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(ANON_COOKIE, path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else ""


def device_of(request: Request) -> tuple[int, str] | None:
    """(account id, nonce) from a genuine device cookie; None when absent or not signed by this instance."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    uid, _, rest = raw.partition(".")
    nonce, _, sig = rest.partition(".")
    if not (uid.isdigit() and len(uid) <= 10 and _TOKEN.match(nonce) and len(sig) == 64):
        return None
    if not hmac.compare_digest(sig, _sign(request, f"device|{uid}|{nonce}")):
        return None
    return int(uid), nonce


def remember_device(request: Request, response: Response, user_id: int) -> None:
    """Mark this browser as one the account signed in from (its failures then count apart)."""
    current = device_of(request)
    nonce = current[1] if current and current[0] == user_id else new_token()
    value = f"{user_id}.{nonce}.{_sign(request, f'device|{user_id}|{nonce}')}"
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE, httponly=True, samesite="strict",
                        secure=_secure(request), path="/")
