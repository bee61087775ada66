"""Publishing from the web: the request queues a `publish` job, a worker publishes.

`request_publish` runs the quick checks in the request (approval, a run already published or being
published, the confirmation over the threshold — the same preview the run page shows) and queues the
job with who asked; the worker's `publish` handler (`run_publish_job`) publishes with
`yidan.store.publish.publish_run`, writes the round's default due dates and who published to the audit
log, and queues a `workbooks` job that builds every county's and city's workbook ahead of the first
download (`yidan.web.workbooks.prebuild`). The run page shows the job's state while it waits and runs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from yidan.jobs.queue import enqueue
from yidan.settings import SupervisionSettings
from yidan.store import approvals, audit, deadlines
from yidan.store.db import session_scope
from yidan.store.errors import ActionError
from yidan.store.models import Job, Run, User
from yidan.store.publish import PublishResult, preview_publish, publish_run

ACTIVE = ("queued", "running")


def pending_publish(session: Session, *, run_pk: int) -> Job | None:
    """The run's publish job still waiting or running, if any."""
    return session.scalars(select(Job).where(Job.run_pk == run_pk, Job.kind == "publish", Job.status.in_(ACTIVE))
                           .order_by(Job.id.desc()).limit(1)).first()


def request_publish(session: Session, *, run: Run, user: User, confirm: bool, threshold: int,
                    supervision: SupervisionSettings) -> Job:
    """Queue the publish of `run` for `user`; ActionError (in Chinese) when it cannot be published."""
    approvals.require_for_publish(session, run=run, enabled=supervision.publish_needs_approval)
    if pending_publish(session, run_pk=run.id) is not None:
        raise ActionError(f"比对 {run.run_id or run.id} 正在发布中，请勿重复提交。", hint="稍候刷新本页查看发布结果。")
    preview = preview_publish(session, run=run, threshold=threshold)  # refuses a published or incomplete run
    if preview.needs_confirmation and not confirm:
        raise ActionError(
            f"本次发布将数据销号 {preview.result.resolved} 件案件，超过需要确认的数量（{threshold} 件），尚未发布。",
            hint="核对发布预览中各县的数据销号数，确认无误后勾选“确认发布”再提交（接口加 confirm=true）。")
    job = enqueue(session, kind="publish", run_pk=run.id,
                  payload={"user_id": user.id, "confirm": confirm, "threshold": threshold,
                           "supervision": supervision.model_dump(mode="json")})
    audit.record(session, user=user, action="publish_request", target=f"比对 {run.run_id or run.id}",
                 detail=f"发布任务 {job.id} 已排队")
    return job


def published(session: Session, *, run: Run, user: User, result: PublishResult,
              supervision: SupervisionSettings) -> Job:
    """What follows a publish, in its transaction: the round's due dates, who published (audit log), and
    the job that builds the workbooks."""
    deadlines.ensure(session, settings=supervision)
    audit.record(session, user=user, action="publish_run", target=f"比对 {run.run_id or run.id}",
                 detail=f"新增 {result.opened}，延续 {result.kept}，重新打开 {result.reopened}，数据销号 {result.resolved}")
    return enqueue(session, kind="workbooks", run_pk=run.id, payload={"supervision": supervision.model_dump(mode="json")})


def run_publish_job(sessions: sessionmaker[Session], *, run_pk: int | None, payload: dict[str, Any]) -> str | None:
    """The worker's `publish` job: None when published, else the reason (in Chinese)."""
    supervision = SupervisionSettings.model_validate(payload.get("supervision") or {})
    with session_scope(sessions) as s:
        run, user = s.get(Run, run_pk), s.get(User, payload["user_id"])
        if run is None or user is None:
            return "要发布的比对或发起发布的账号已不存在。"
        result = publish_run(s, run=run, user=user, confirm=bool(payload.get("confirm")),
                             threshold=payload.get("threshold"))
        published(s, run=run, user=user, result=result, supervision=supervision)
    return None
