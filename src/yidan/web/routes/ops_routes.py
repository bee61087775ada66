"""Operations (issue 22): retrying a failed run, and the readiness probe for load balancers and monitors.

A failed run goes back to the job queue with the inputs of its last try. `/readyz` answers 200 only
when the database answers, its schema is at the code's head and a worker polled the queue lately
(else 503 with the reasons); `/healthz` (pages_auth) only says the process is up.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from yidan.jobs.queue import live_workers, retry_run
from yidan.store.db import schema_revisions, session_scope
from yidan.web.deps import RUN_ADMINS, CurrentUser, RunInScope, SessionDep, allow
from yidan.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
api_router = APIRouter(prefix="/api", tags=["runs"])
probe_router = APIRouter()


@router.post("/runs/{run_pk}/retry", dependencies=allow(*RUN_ADMINS), name="runs_retry")
def runs_retry(request: Request, session: SessionDep, run: RunInScope, user: CurrentUser):
    retry_run(session, run_pk=run.id)
    session.commit()
    request.app.state.worker.notify()
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@api_router.post("/runs/{run_pk}/retry", dependencies=allow(*RUN_ADMINS), status_code=202, name="api_runs_retry")
def api_runs_retry(request: Request, session: SessionDep, run: RunInScope, user: CurrentUser) -> dict[str, object]:
    """重新发起一次失败的比对（使用上次的输入文件；后台运行）。"""
    job = retry_run(session, run_pk=run.id)
    session.commit()
    request.app.state.worker.notify()
    return {"id": run.id, "status": "queued", "attempt": job.attempt}


@probe_router.get("/readyz", name="readyz", include_in_schema=False)
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    problems: list[str] = []
    try:
        current, head = schema_revisions(request.app.state.engine)
        checks["database"] = "ok"
        checks["schema"] = "ok" if current == head else f"{current} ≠ {head}"
        if current != head:
            problems.append(f"数据库结构版本 {current} 不是程序要求的 {head}：运行 yidan db upgrade")
    except Exception:  # whatever the driver raises, the answer is: not ready
        checks["database"] = checks["schema"] = "unreachable"
        problems.append("数据库无法连接")
    if checks["database"] == "ok":
        w = request.app.state.settings.worker
        with session_scope(request.app.state.sessions) as s:
            alive = live_workers(s, within_seconds=max(3 * w.poll_seconds, w.lease_seconds))
        checks["worker"] = f"ok ({len(alive)})" if alive else "none"
        if not alive:
            problems.append("没有正在运行的工作进程：启动 yidan worker（或检查其日志）")
    ready = not problems
    return JSONResponse({"ready": ready, "checks": checks, "problems": problems}, status_code=200 if ready else 503)


ROUTERS = (router, api_router, probe_router)
