"""The worker loop: reap expired leases, claim a job, run it while a heartbeat renews its lease, finish it.

`yidan worker` runs one `QueueWorker` in the foreground; `yidan serve` on SQLite runs one in a thread of
the web process (mode "inprocess"), which hands its heavy jobs (publish, workbooks, report) to a child
process of their own (`yidan.jobs.child`; setting worker.child_process) so that they never slow the
pages down. Runs are executed by the web application's `RunWorker` (the same service as `yidan run`);
publishing calls `yidan.jobs.publishing.run_publish_job`, which queues the `workbooks` job that builds
the counties' and cities' workbooks ahead of their first download.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from yidan.errors import YidanError
from yidan.jobs import queue
from yidan.settings import WorkerSettings
from yidan.store.db import session_scope
from yidan.store.models import Run

if TYPE_CHECKING:
    from yidan.web.worker import RunSpec, RunWorker

log = logging.getLogger(__name__)
_THREADS: weakref.WeakSet[QueueWorker] = weakref.WeakSet()  # workers running in a thread of this process


def spec_payload(spec: RunSpec) -> dict[str, Any]:
    return {"term": spec.term, "audit_terms": list(spec.audit_terms),
            "files": {t: [str(p) for p in ps] for t, ps in spec.files.items()},
            "config": str(spec.config) if spec.config else None}


def spec_from_payload(payload: dict[str, Any]) -> RunSpec:
    from yidan.web.worker import RunSpec

    return RunSpec(term=payload["term"], audit_terms=list(payload.get("audit_terms") or []),
                   files={t: [Path(p) for p in ps] for t, ps in (payload.get("files") or {}).items()},
                   config=Path(payload["config"]) if payload.get("config") else None)


class QueueWorker:
    def __init__(self, sessions: sessionmaker[Session], executor: RunWorker, *, settings: WorkerSettings,
                 mode: str, name: str | None = None) -> None:
        self.sessions = sessions
        self.executor = executor
        self.settings = settings
        self.mode = mode
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{mode}:{uuid.uuid4().hex[:6]}"
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.finished = threading.Condition()  # notified after each job this worker ends (RunWorker.wait)
        self.child: Any = None  # the child process (subprocess.Popen) of the current or last heavy job
        self.log_settings: dict[str, Any] | None = None  # what the child logs (the server's log settings)
        self.child_url = _child_database_url(sessions) if mode == "inprocess" and settings.child_process else None

    # --- one poll ---------------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Reap expired leases, then claim and run one job; True when a job ran."""
        with session_scope(self.sessions) as s:
            for job_id in queue.reap_expired(s):
                log.warning("job %s failed: its lease expired", job_id)
            queue.beat_worker(s, name=self.name, mode=self.mode)
        try:
            self.executor.poll_intake()
        except Exception:  # a bad file in the intake folder must not stop the queue
            log.exception("intake folder: poll failed")
        with session_scope(self.sessions) as s:
            job = queue.claim(s, owner=self.name, lease_seconds=self.settings.lease_seconds)
            if job is None:
                return False
            job_id, kind, run_pk, payload = job.id, job.kind, job.run_pk, dict(job.payload)
        log.info("job %s (%s, run %s) claimed by %s", job_id, kind, run_pk, self.name)
        self._execute(job_id, kind, run_pk, payload)
        return True

    def _owned(self, job_id: int) -> bool:
        with session_scope(self.sessions) as s:
            return queue.still_owned(s, job_id=job_id, owner=self.name)

    def _heartbeats(self, job_id: int, done: threading.Event) -> None:
        while not done.wait(self.settings.heartbeat_seconds):
            try:
                with session_scope(self.sessions) as s:
                    if not queue.heartbeat(s, job_id=job_id, owner=self.name, lease_seconds=self.settings.lease_seconds):
                        return
            except Exception:  # a missed beat is retried at the next one; the lease covers several
                log.exception("heartbeat for job %s failed", job_id)

    def _execute(self, job_id: int, kind: str, run_pk: int | None, payload: dict[str, Any]) -> None:
        done = threading.Event()
        beats = threading.Thread(target=self._heartbeats, args=(job_id, done), daemon=True, name=f"yidan-beat-{job_id}")
        beats.start()
        try:
            if self.child_url is not None and kind in CHILD_KINDS:
                ok, error = self._in_child(job_id, kind, run_pk, payload)
            else:
                ok, error = HANDLERS[kind](self, run_pk, payload, lambda: self._owned(job_id))
        except (KeyboardInterrupt, SystemExit):  # stopped (Ctrl+C, systemctl stop): say so now, not at lease end
            self._stopped(job_id, run_pk)
            raise
        except Exception as exc:  # a job that fails must say so, whatever failed
            log.exception("job %s failed", job_id)
            ok, error = False, failure_reason(exc)
        finally:
            done.set()
        with session_scope(self.sessions) as s:
            if not queue.finish(s, job_id=job_id, owner=self.name, ok=ok, error=error):
                log.warning("job %s finished after its lease had expired; its result was not recorded", job_id)
        with self.finished:
            self.finished.notify_all()

    def _in_child(self, job_id: int, kind: str, run_pk: int | None, payload: dict[str, Any]) -> tuple[bool, str | None]:
        """Run the job in a child process (`python -m yidan.jobs.child`) while this thread keeps its lease."""
        import subprocess

        from yidan.jobs import child as job_child

        assert self.child_url is not None
        proc = job_child.start(database_url=self.child_url, data_dir=self.executor.data_dir, kind=kind, run_pk=run_pk,
                               payload=payload, log=self.log_settings)
        self.child = proc
        log.info("job %s (%s) runs in child process %s", job_id, kind, proc.pid)
        try:
            while not self.stopping.is_set():
                try:
                    proc.wait(0.5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if proc.poll() is None:  # the server is stopping (or this thread was interrupted)
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.stopping.is_set() and proc.returncode != 0:
            return False, job_child.STOPPED
        got = job_child.answer(proc)
        if got is not None:
            return got
        log.error("job %s (%s): child process %s died (exit status %s)", job_id, kind, proc.pid, proc.returncode)
        return False, job_child.died(proc)

    def _stopped(self, job_id: int, run_pk: int | None) -> None:
        reason = "工作进程被停止（Ctrl+C 或服务停止），任务中断；可在比对页面点“重新比对”再次发起。"
        try:
            with session_scope(self.sessions) as s:
                if queue.finish(s, job_id=job_id, owner=self.name, ok=False, error=reason) and run_pk is not None:
                    from yidan.store.crud import runs as run_crud

                    run = s.get(Run, run_pk)
                    if run is not None and run.status in ("queued", "running"):
                        run_crud.finish_run(s, run_pk=run_pk, status="failed", error=reason)
        except Exception:  # the database away too: the lease will expire and say it
            log.exception("job %s: could not record the stop", job_id)

    # --- the loop ---------------------------------------------------------------------------------
    def loop(self) -> None:
        while not self.stopping.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database away for a moment: try again at the next poll
                if self.stopping.is_set() or sys.is_finalizing():
                    return
                log.exception("worker %s: poll failed", self.name)
                ran = False
            if not ran:
                self.wake.wait(self.settings.poll_seconds)
                self.wake.clear()

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.loop, daemon=True, name="yidan-worker")
        _THREADS.add(self)
        self.thread.start()
        return self.thread

    def close(self) -> None:
        self.stopping.set()
        self.wake.set()


def failure_reason(exc: BaseException) -> str:
    """What a failed job says: a YidanError's own message, else the exception's type and text."""
    return str(exc) if isinstance(exc, YidanError) else f"任务异常终止：{type(exc).__name__}: {exc}"


def _child_database_url(sessions: sessionmaker[Session]) -> str | None:
    """The database a child process can open for itself: a SQLite file (not an in-memory database)."""
    engine = getattr(sessions, "kw", {}).get("bind")  # None: no database to hand a child (tests)
    url = getattr(engine, "url", None)
    if url is None or url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return str(url.render_as_string(hide_password=False))


def close_all(timeout: float = 5.0) -> None:
    """Stop every worker thread of this process (at exit; tests call it at the end of their session)."""
    workers = list(_THREADS)
    for w in workers:
        w.close()
    for w in workers:
        if w.thread is not None and w.thread is not threading.current_thread():
            w.thread.join(timeout)


atexit.register(close_all)


Handler = Callable[[QueueWorker, "int | None", dict[str, Any], Callable[[], bool]], tuple[bool, "str | None"]]


def _run(worker: QueueWorker, run_pk: int | None, payload: dict[str, Any], owned: Callable[[], bool]) -> tuple[bool, str | None]:
    assert run_pk is not None
    worker.executor.execute(run_pk, spec_from_payload(payload), owned=owned)
    with session_scope(worker.sessions) as s:
        run = s.get(Run, run_pk)
        status, error = (run.status, run.error) if run else ("failed", "比对记录已不存在。")
    if status == "complete" and payload.get("alerts"):
        from yidan.jobs.intake import make_alerts

        log.info("run %s: %s alerts for the counties", run_pk, make_alerts(worker.sessions, run_pk))
    return status in ("complete", "published"), error


def _publish(worker: QueueWorker, run_pk: int | None, payload: dict[str, Any], owned: Callable[[], bool]) -> tuple[bool, str | None]:
    from yidan.jobs.publishing import run_publish_job

    error = run_publish_job(worker.sessions, run_pk=run_pk, payload=payload)
    return error is None, error


def _workbooks(worker: QueueWorker, run_pk: int | None, payload: dict[str, Any], owned: Callable[[], bool]) -> tuple[bool, str | None]:
    """Every county's and city's workbook of a run just published, so the first download is a file read."""
    from yidan.settings import SupervisionSettings
    from yidan.web.workbooks import prebuild

    assert run_pk is not None
    prebuild(worker.sessions, worker.executor.data_dir, run_pk=run_pk,
             supervision=SupervisionSettings.model_validate(payload.get("supervision") or {}))
    return True, None


def _report(worker: QueueWorker, run_pk: int | None, payload: dict[str, Any], owned: Callable[[], bool]) -> tuple[bool, str | None]:
    """The workbooks (province, city or county level) and indicators of a run, as `yidan report` writes them."""
    import pyarrow.parquet as pq

    from yidan.outfiles import atomic_output
    from yidan.reports import compute_indicators, write_workbooks
    from yidan.reports.indicators import write_indicator_workbook
    from yidan.runs.rundir import RunDir

    with session_scope(worker.sessions) as s:
        run = s.get(Run, run_pk)
        if run is None:
            return False, "要生成报表的比对已不存在。"
        path, run_id = run.path, run.run_id or f"run-{run.id}"
    level = str(payload.get("level") or "province")
    out = Path(payload.get("out") or worker.executor.data_dir / "exports" / run_id / f"report-{level}")
    rundir = RunDir(Path(path)).require_complete()
    write_workbooks(rundir, out, level)
    table = compute_indicators(rundir, None)
    with atomic_output(out / "indicators.parquet") as tmp:
        pq.write_table(table, tmp)
    write_indicator_workbook(table, rundir, out / f"指标汇总_{rundir.term}.xlsx")
    return True, None


HANDLERS: dict[str, Handler] = {"run": _run, "publish": _publish, "workbooks": _workbooks, "report": _report}
CHILD_KINDS = ("publish", "workbooks", "report")  # the in-process worker runs these in a child process


def run_worker(settings: Any, *, runner: Any = None, once: bool = False) -> QueueWorker:
    """`yidan worker`: `settings.worker.count` workers (threads) until interrupted, or one poll with `once`."""
    from yidan.logs import configure
    from yidan.store.db import make_engine, session_factory
    from yidan.web.worker import RunWorker

    configure(settings.log)
    sessions = session_factory(make_engine(settings.database_url))
    executor = RunWorker(sessions, settings.data_dir, runner, config=settings.run_config,
                         worker_settings=settings.worker, mode="external", intake=settings.intake)
    workers = [QueueWorker(sessions, executor, settings=settings.worker, mode="external")
               for _ in range(1 if once else settings.worker.count)]
    if once:
        workers[0].run_once()
        return workers[0]
    import signal

    def _term(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)  # systemctl stop / docker stop: the running job is failed with the reason at once

    signal.signal(signal.SIGTERM, _term)
    for w in workers[1:]:
        w.start()
    try:
        workers[0].loop()
    finally:
        for w in workers[1:]:
            w.close()
    return workers[0]
