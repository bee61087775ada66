"""The queue table's operations: enqueue, claim under a lease, heartbeat, finish, reap expired leases.

A worker claims the oldest queued job and holds it under a lease (`lease_until`) that it renews by
heartbeats while the job runs. On PostgreSQL the claim is `SELECT … FOR UPDATE SKIP LOCKED`, so
several workers never take the same job and never wait on one another; SQLite has one writer at a
time, and there the claim is a conditional UPDATE (`… WHERE status = 'queued'`) whose row count
says whether this worker won. A job whose lease ran out — its worker was killed or lost the
database — is failed with the reason by whichever worker polls next, and its run with it; the run
can then be retried (a new job for the same run, attempt + 1).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from yidan.errors import NotFoundError
from yidan.store.errors import ActionError
from yidan.store.models import Job, Run, WorkerBeat, utcnow

LEASE_LOST = "执行任务的工作进程停止响应（{owner}，最后心跳 {beat}），租约到期后判定失败；可在比对页面点“重新比对”再次发起。"
NO_JOB = "服务在比对进行中停止，比对中断；请重新发起比对。"


def enqueue(session: Session, *, kind: str, payload: dict[str, Any], run_pk: int | None = None,
            attempt: int = 1) -> Job:
    job = Job(kind=kind, payload=payload, run_pk=run_pk, attempt=attempt, status="queued")
    session.add(job)
    session.flush()
    return job


def claim(session: Session, *, owner: str, lease_seconds: float) -> Job | None:
    """The oldest queued job, now running under `owner`'s lease; None when the queue is empty."""
    now = utcnow()
    values = {"status": "running", "owner": owner, "started_at": now, "heartbeat_at": now,
              "lease_until": now + timedelta(seconds=lease_seconds)}
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(Job).where(Job.status == "queued").order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        job = session.scalars(stmt).first()
        if job is None:
            return None
        for k, v in values.items():
            setattr(job, k, v)
        session.flush()
        return job
    for _ in range(10):  # SQLite: the conditional update decides who wins
        job_id = session.scalar(select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(1))
        if job_id is None:
            return None
        won = session.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(**values))
        if won.rowcount == 1:  # type: ignore[attr-defined]
            session.expire_all()
            return session.get(Job, job_id)
    return None


def heartbeat(session: Session, *, job_id: int, owner: str, lease_seconds: float) -> bool:
    """Renew the lease; False when the job is no longer this worker's (its lease ran out and it was failed)."""
    now = utcnow()
    done = session.execute(update(Job).where(Job.id == job_id, Job.owner == owner, Job.status == "running")
                           .values(heartbeat_at=now, lease_until=now + timedelta(seconds=lease_seconds)))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def finish(session: Session, *, job_id: int, owner: str, ok: bool, error: str | None = None) -> bool:
    """Record the job's end, if it is still this worker's; False when its lease had already been taken away."""
    done = session.execute(update(Job).where(Job.id == job_id, Job.owner == owner, Job.status == "running")
                           .values(status="done" if ok else "failed", finished_at=utcnow(), error=error,
                                   lease_until=None))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def still_owned(session: Session, *, job_id: int, owner: str) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Job).where(
        Job.id == job_id, Job.owner == owner, Job.status == "running")))


def reap_expired(session: Session, *, now: datetime | None = None) -> list[int]:
    """Fail the jobs whose lease ran out, and their runs, with the reason; the ids of the jobs failed."""
    now = now or utcnow()
    failed = []
    for job in session.scalars(select(Job).where(Job.status == "running", Job.lease_until < now)).all():
        reason = LEASE_LOST.format(owner=job.owner or "?", beat=f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
                                   if job.heartbeat_at else "无")
        won = session.execute(update(Job).where(Job.id == job.id, Job.status == "running", Job.lease_until < now)
                              .values(status="failed", finished_at=now, error=reason, lease_until=None))
        if not won.rowcount:  # type: ignore[attr-defined]
            continue  # another worker reaped it first
        failed.append(job.id)
        if job.run_pk is not None:
            session.execute(update(Run).where(Run.id == job.run_pk, Run.status.in_(("queued", "running")))
                            .values(status="failed", finished_at=now, error=reason, progress="失败"))
    return failed


def fail_runs_without_job(session: Session, *, grace_seconds: float = 120) -> int:
    """Runs left queued or running with no live job (started before the queue, or the enqueue never
    happened): nothing will ever take them, so they are failed with the reason; how many. A queued run
    younger than `grace_seconds` is left alone: another web process may be about to queue its job."""
    live = exists().where(and_(Job.run_pk == Run.id, Job.status.in_(("queued", "running"))))
    young = and_(Run.status == "queued", Run.created_at > utcnow() - timedelta(seconds=grace_seconds))
    result = session.execute(update(Run).where(Run.status.in_(("queued", "running")), ~live, ~young)
                             .values(status="failed", finished_at=utcnow(), error=NO_JOB)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def latest_job(session: Session, *, run_pk: int) -> Job | None:
    return session.scalars(select(Job).where(Job.run_pk == run_pk).order_by(Job.id.desc()).limit(1)).first()


def retry_run(session: Session, *, run_pk: int) -> Job:
    """Queue a failed run again with the inputs of its last job (attempt + 1)."""
    run = session.get(Run, run_pk)
    last = latest_job(session, run_pk=run_pk)
    if run is None:
        raise NotFoundError(f"比对不存在：{run_pk}", hint="回到比对列表选择。")
    if run.status != "failed" or last is None or last.kind != "run":
        raise ActionError("只有失败的比对可以重新发起。", hint="比对仍在进行或已完成时不需要重新发起。")
    run.status, run.error, run.progress, run.finished_at = "queued", None, "排队中", None
    return enqueue(session, kind="run", payload=dict(last.payload), run_pk=run_pk, attempt=last.attempt + 1)


def beat_worker(session: Session, *, name: str, mode: str) -> None:
    row = session.get(WorkerBeat, name)
    if row is None:
        session.add(WorkerBeat(name=name, mode=mode))
    else:
        row.seen_at = utcnow()


def live_workers(session: Session, *, within_seconds: float) -> list[WorkerBeat]:
    since = utcnow() - timedelta(seconds=within_seconds)
    return list(session.scalars(select(WorkerBeat).where(WorkerBeat.seen_at >= since)))
