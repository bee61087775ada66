"""The FastAPI application factory.

`create_app(settings)` builds everything from settings (never at import time): the
database engine (migrated to head on start), the background run worker, signed
HTTP-only session cookies, security headers, routes and the static assets, which the
application serves itself (no CDN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from yidan.errors import ConfigError, NotFoundError, YidanError
from yidan.settings import AppSettings, get_app_settings
from yidan.store.crud import runs as run_crud
from yidan.store.db import make_engine, session_factory, session_scope, upgrade
from yidan.store.errors import ActionError, ConflictError
from yidan.store.models import User
from yidan.web.deps import LoginRequired, is_api
from yidan.web.render import render
from yidan.web.security import WEAK_PASSWORDS, verify_password
from yidan.web.worker import Runner, RunWorker

STATIC = Path(__file__).parent / "static"


def _refuse_default_passwords(app: FastAPI) -> None:
    with session_scope(app.state.sessions) as s:
        admins = s.scalars(select(User).where(User.role == "province_admin", User.disabled.is_(False))).all()
        for u in admins:
            if any(verify_password(u.password_hash, p) for p in WEAK_PASSWORDS):
                raise ConfigError(f"生产模式下管理员账号 {u.username} 仍在使用默认或弱密码，拒绝启动。",
                                  hint=f"先运行 yidan user passwd {u.username} 设置强密码。")


def _status_for(exc: YidanError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, ActionError):
        return 400
    return 400


def create_app(settings: AppSettings | None = None, *, engine: Engine | None = None,
               runner: Runner | None = None, migrate: bool = True) -> FastAPI:
    settings = settings or get_app_settings()
    engine = engine or make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    app = FastAPI(title="一单式教育扶贫比对系统", version="0.1", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.options_cache = {}  # filter menus by (region, latest published run)
    app.state.worker = RunWorker(app.state.sessions, settings.data_dir, runner, config=settings.run_config)
    with session_scope(app.state.sessions) as s:
        run_crud.fail_interrupted(s)
    if settings.production:
        _refuse_default_passwords(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/api/docs"):
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            )
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(
        SessionMiddleware, secret_key=settings.secret_key, session_cookie="yidan_session",
        max_age=settings.session_max_age, same_site="strict", https_only=settings.production,
    )

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(YidanError)
    async def _yidan_error(request: Request, exc: YidanError) -> Response:
        code = _status_for(exc)
        if is_api(request):
            return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=code)
        return render(request, "error.html", {"message": exc.message, "hint": exc.hint, "code": code}, code)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if is_api(request) or request.url.path.startswith("/static/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else "页面不存在。"
        return render(request, "error.html", {"message": message, "hint": "", "code": exc.status_code},
                      exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        message = f"提交的内容不完整或格式不对：{where}（{first.get('msg', '')}）"
        if is_api(request):
            return JSONResponse({"detail": message, "errors": exc.errors()}, status_code=422)
        return render(request, "error.html", {"message": message, "hint": "返回上一页检查后重新提交。", "code": 422}, 422)

    from yidan.web.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def route_table(app: FastAPI) -> list[Any]:
    """Every endpoint route the application serves, flattened through included routers.

    FastAPI keeps included routers as wrapper entries in `app.routes`; the authorisation
    matrix test walks this table so that no route can escape it.
    """
    out: list[Any] = []

    def walk(routes: list[Any]) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(list(inner.routes))
            elif isinstance(r, APIRoute):
                out.append(r)

    walk(list(app.routes))
    return out
