"""Comparison runs known to the application, and their progress."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yidan.errors import NotFoundError
from yidan.store.models import Run, utcnow

RUN_STATES = {
    "queued": "排队中",
    "running": "比对中",
    "complete": "已完成（待发布）",
    "failed": "失败",
    "published": "已发布",
}


def create_run(
    session: Session, *, path: str, region: str, started_by: int | None, status: str = "queued"
) -> Run:
    run = Run(path=path, region=region, started_by=started_by, status=status)
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, *, run_pk: int, region: str) -> Run:
    """The run if the user's region covers the run's province (else not found)."""
    run = session.get(Run, run_pk)
    if run is None or not (run.region.startswith(region) or region.startswith(run.region)):
        raise NotFoundError(f"比对不存在：{run_pk}", hint="回到比对列表选择。")
    return run


def run_region(session: Session, *, run_pk: int) -> str:
    """The province a run covers (for work done outside a request, where no user scopes it)."""
    run = session.get(Run, run_pk)
    if run is None:
        raise NotFoundError(f"比对不存在：{run_pk}", hint="回到比对列表选择。")
    return run.region


def _covering(region: str):  # type: ignore[no-untyped-def]
    return Run.region == region[:2]


def list_runs(session: Session, *, region: str) -> list[Run]:
    return list(session.scalars(select(Run).where(_covering(region)).order_by(Run.id.desc())))


def published_runs(session: Session, *, region: str) -> list[Run]:
    """Published runs covering `region`, oldest first (the order trends are drawn in)."""
    stmt = select(Run).where(Run.status == "published", _covering(region)).order_by(Run.published_at, Run.id)
    return list(session.scalars(stmt))


def latest_published(session: Session, *, region: str) -> Run | None:
    runs = published_runs(session, region=region)
    return runs[-1] if runs else None


def set_progress(session: Session, *, run_pk: int, status: str, progress: str) -> None:
    session.execute(update(Run).where(Run.id == run_pk).values(status=status, progress=progress))


def finish_run(
    session: Session, *, run_pk: int, status: str, run_id: str | None = None, term: str | None = None,
    totals: dict | None = None, error: str | None = None, path: str | None = None,
) -> None:
    values: dict = {"status": status, "finished_at": utcnow(), "error": error}
    if path is not None:
        values["path"] = path
    if run_id is not None:
        values["run_id"] = run_id
    if term is not None:
        values["term"] = term
    if totals is not None:
        values["totals"] = totals
    session.execute(update(Run).where(Run.id == run_pk).values(**values))


def fail_interrupted(session: Session) -> int:
    """Mark runs left queued/running by a process that died as failed; returns how many."""
    result = session.execute(
        update(Run)
        .where(Run.status.in_(("queued", "running")))
        .values(status="failed", finished_at=utcnow(), error="服务在比对进行中停止，比对中断；请重新发起比对。")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
