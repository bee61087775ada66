"""Retrying a failed run (issue 22): the run goes back to the job queue with the inputs of its last try."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from yidan.jobs.queue import retry_run
from yidan.web.deps import RUN_ADMINS, CurrentUser, RunInScope, SessionDep, allow

router = APIRouter(tags=["runs"])


@router.post("/runs/{run_pk}/retry", dependencies=allow(*RUN_ADMINS), name="runs_retry")
def runs_retry(request: Request, session: SessionDep, run: RunInScope, user: CurrentUser):
    retry_run(session, run_pk=run.id)
    session.commit()
    request.app.state.worker.notify()
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.post("/api/runs/{run_pk}/retry", dependencies=allow(*RUN_ADMINS), status_code=202, name="api_runs_retry")
def api_runs_retry(request: Request, session: SessionDep, run: RunInScope, user: CurrentUser) -> dict[str, object]:
    """重新发起一次失败的比对（使用上次的输入文件；后台运行）。"""
    job = retry_run(session, run_pk=run.id)
    session.commit()
    request.app.state.worker.notify()
    return {"id": run.id, "status": "queued", "attempt": job.attempt}
