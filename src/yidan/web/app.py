"""The FastAPI application factory.

`create_app(settings)` builds everything from settings (never at import time): the
database engine (migrated to head on start), the instance's random secret (kept in the
database), the background run worker, server-side sessions (yidan.web.sessions), the
request guard (body limits, security headers, a Chinese 500; yidan.web.guard), the input
guard and Chinese 4xx answers (yidan.web.validation), routes, the API reference page and
the static assets, which the application serves itself (no CDN, no external URL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select
from starlette.exceptions import HTTPException

from yidan.errors import ConfigError, NotFoundError, YidanError
from yidan.jobs.queue import fail_runs_without_job
from yidan.logs import RequestId
from yidan.settings import AppSettings, get_app_settings
from yidan.store.crud import sessions as web_sessions
from yidan.store.db import make_engine, prepare, session_factory, session_scope
from yidan.store.errors import ActionError, ConflictError
from yidan.store.instance import instance_secret
from yidan.store.models import User
from yidan.store.roles import ADMIN_ROLE
from yidan.web.deps import LoginRequired, is_api
from yidan.web.guard import RequestGuard
from yidan.web.render import render
from yidan.web.security import WEAK_PASSWORDS, configure_hashing, verify_password
from yidan.web.sessions import clear_session_cookie, session_token
from yidan.web.validation import guard_input, validation_errors, validation_message
from yidan.web.worker import Runner, RunWorker

STATIC = Path(__file__).parent / "static"


def _refuse_default_passwords(app: FastAPI) -> None:
    with session_scope(app.state.sessions) as s:
        admins = s.scalars(select(User).where(User.role == ADMIN_ROLE, User.disabled.is_(False))).all()
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


_PLAIN = {400: "请求格式不对。", 401: "需要登录。", 403: "无权访问。", 404: "页面不存在。", 405: "不支持此请求方式。",
          406: "无法提供所要求的格式。", 413: "提交的内容太大。", 415: "不支持此内容类型。", 422: "提交的内容格式不对。"}


def _chinese(detail: object, code: int) -> str:
    """FastAPI's and Starlette's own English details become a Chinese sentence."""
    if isinstance(detail, str) and any("\u4e00" <= c <= "\u9fff" for c in detail):
        return detail
    return _PLAIN.get(code, "请求无法完成。")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.worker.shutdown()  # the server stops: so does its in-process worker


def create_app(settings: AppSettings | None = None, *, engine: Engine | None = None,
               runner: Runner | None = None, migrate: bool = True) -> FastAPI:
    settings = settings or get_app_settings()
    engine = engine or make_engine(settings.database_url)
    if migrate:
        prepare(engine)  # an empty database is created; a schema behind the code refuses to start
    app = FastAPI(title="一单式教育扶贫比对系统", version="0.1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", dependencies=[Depends(guard_input)], lifespan=_lifespan)
    app.state.settings = settings
    configure_hashing(settings.password_hashing)
    app.state.engine = engine
    app.state.secret = instance_secret(engine)  # random, generated at the first start, kept in the database
    app.state.sessions = session_factory(engine)
    app.state.options_cache = {}  # filter menus by (region, latest published run)
    app.state.worker = RunWorker(app.state.sessions, settings.data_dir, runner, config=settings.run_config,
                                 worker_settings=settings.worker,
                                 mode=settings.worker.resolved_mode(settings.database_url), intake=settings.intake)
    if app.state.worker.queue_worker is not None:  # its child processes log as the server does
        app.state.worker.queue_worker.log_settings = settings.log.model_dump()
    with session_scope(app.state.sessions) as s:
        fail_runs_without_job(s)  # queued jobs survive a restart; a run with no job would wait forever
        web_sessions.prune(s)
    if settings.production:
        _refuse_default_passwords(app)

    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(RequestId)  # outermost: every answer, a refused one too, carries its request id

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        response: Response
        if request.headers.get("hx-request"):
            response = Response(status_code=401, headers={"HX-Redirect": "/login"})
        else:
            response = RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if session_token(request):
            clear_session_cookie(request, response)
        return response

    @app.exception_handler(YidanError)
    async def _yidan_error(request: Request, exc: YidanError) -> Response:
        code = _status_for(exc)
        if is_api(request):
            return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=code)
        return render(request, "error.html", {"message": exc.message, "hint": exc.hint, "code": code}, code)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        message = _chinese(exc.detail, exc.status_code)
        if is_api(request) or request.url.path.startswith("/static/"):
            return JSONResponse({"detail": message}, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 404:
            message = "页面不存在。"
        return render(request, "error.html", {"message": message, "hint": "", "code": exc.status_code},
                      exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message = validation_message(exc.errors())  # never the input itself
        if is_api(request):
            return JSONResponse({"detail": message, "errors": validation_errors(exc.errors())}, status_code=422)
        return render(request, "error.html", {"message": message, "hint": "返回上一页检查后重新提交。", "code": 422}, 422)

    from yidan.web.routes import ROUTERS, api_docs

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.state.worker.start()  # last: an application that failed to build leaves no worker thread behind
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
