"""Comparison runs in the background, never inside a request.

`RunWorker.submit` puts the run in the job queue (`yidan.jobs`); a worker — the web process's own
thread on SQLite ("inprocess"), or `yidan worker` processes beside several web processes
("external") — claims it under a lease and calls `execute`, the same service as `yidan run`
(`yidan.pipeline.run.run_comparison`, imported lazily), which writes its progress to the run's row,
which the run page polls with htmx. A job that raises is marked failed with a Chinese reason; a run
whose worker was killed is failed with the reason when its lease expires, and can be retried.
The decisions reviewers made on K05 cases are written as the `link_decisions`
contract table and fed to every run started here.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from yidan.contract.link_decisions import LINK_DECISIONS
from yidan.errors import RunError, YidanError
from yidan.outfiles import write_csv
from yidan.runs.rundir import RunDir
from yidan.settings import IntakeSettings, RunConfig, WorkerSettings, load_run_config
from yidan.store.crud import cases as case_crud
from yidan.store.crud import runs as run_crud
from yidan.store.db import session_scope

log = logging.getLogger(__name__)

TABLES = ("registry", "enrollment", "out_of_province", "verifications", "aid", "policies", "targets",
          "schools", "classes", "population")


@dataclass
class RunSpec:
    """What the province asked for: the term, audit terms and input files by table."""

    term: str
    audit_terms: list[str] = field(default_factory=list)
    files: dict[str, list[Path]] = field(default_factory=dict)
    # the server's yidan.toml (engine, memory limit, ages, thresholds); None = the documented defaults
    config: Path | None = None


Runner = Callable[[RunSpec, Path, Callable[[str], None]], RunDir]


def files_in_folder(folder: Path) -> dict[str, list[Path]]:
    """Input files in a server folder, recognised by name (registry*.csv, enrollment*.xlsx …)."""
    if not folder.is_dir():
        raise RunError(f"服务器上没有这个目录：{folder}", hint="填写服务器上输入文件所在目录的完整路径。")
    out: dict[str, list[Path]] = {t: [] for t in TABLES}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in (".csv", ".xlsx", ".parquet"):
            for t in sorted(TABLES, key=len, reverse=True):
                if p.name.lower().startswith(t):
                    out[t].append(p)
                    break
    if not out["registry"] or not out["enrollment"]:
        raise RunError(f"目录中缺少建档立卡（registry*）或学籍（enrollment*）文件：{folder}",
                       hint="文件名以 registry、enrollment、aid、policies 等表名开头。")
    return out


def pipeline_runner(spec: RunSpec, out_dir: Path, progress: Callable[[str], None]) -> RunDir:
    """The production runner: the same service as `yidan run`."""
    try:
        from yidan.pipeline.context import RunInputs
        from yidan.pipeline.run import run_comparison
    except ImportError:
        raise RunError("本系统尚未安装比对流程（yidan.pipeline.run）。", hint="升级 yidan 到包含比对流程的版本。") from None
    from yidan.identity.terms import parse_term
    from yidan.settings import load_run_config

    def files(table: str) -> list[Path]:
        return spec.files.get(table, [])

    inputs = RunInputs(
        registry=files("registry"), enrollment=files("enrollment"), out_of_province=files("out_of_province"),
        verifications=files("verifications"), aid=files("aid"), policies=files("policies"),
        link_decisions=files("link_decisions"), targets=files("targets"),
        schools=files("schools"), classes=files("classes"), population=files("population"),
    )
    return run_comparison(  # type: ignore[no-any-return]
        inputs, term=parse_term(spec.term), out_dir=out_dir, config=load_run_config(spec.config),
        audit_terms=[parse_term(t) for t in spec.audit_terms], progress=progress,
    )


def write_link_decisions(session: Session, path: Path, *, region: str) -> Path:
    """The reviewers' decisions on cases in `region` as the link_decisions contract table (CSV, Chinese headers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ([d.person_id, d.student_no, d.decision, d.decided_by, d.decided_on.date().isoformat()]
            for d in case_crud.link_decisions(session, region=region))
    return write_csv(path, [c.header for c in LINK_DECISIONS.columns], rows)


class RunWorker:
    def __init__(self, sessions: sessionmaker[Session], data_dir: Path, runner: Runner | None = None,
                 max_workers: int = 1, config: Path | None = None, *, worker_settings: WorkerSettings | None = None,
                 mode: str = "inprocess", intake: IntakeSettings | None = None) -> None:
        self.sessions = sessions
        self.data_dir = Path(data_dir)
        # a run started from the web uses the server's configuration, as `yidan run --config` does:
        # the configured file, else yidan.toml in the data directory, else the defaults
        default = self.data_dir / "yidan.toml"
        self.config = Path(config) if config else default if default.is_file() else None
        self.runner = runner or pipeline_runner
        self.worker_settings = worker_settings or WorkerSettings()
        self.mode = mode  # inprocess: a worker thread in this process; external: `yidan worker` processes
        self.intake = intake or IntakeSettings()  # the folder the worker watches for new extracts
        self.queue_worker = None
        if mode == "inprocess":
            from yidan.jobs.worker import QueueWorker

            self.queue_worker = QueueWorker(sessions, self, settings=self.worker_settings, mode="inprocess")

    def start(self) -> None:
        """Start this process's own worker thread (mode "inprocess"; create_app calls it last)."""
        if self.queue_worker is not None and self.queue_worker.thread is None:
            self.queue_worker.start()

    def run_config(self) -> RunConfig:
        return load_run_config(self.config)

    def poll_intake(self) -> int | None:
        """A run for new extracts in the intake folder, if any (yidan.jobs.intake); its run_pk."""
        if self.intake.folder is None:
            return None
        from yidan.jobs.intake import poll_intake

        return poll_intake(self, self.intake)

    def run_dir_for(self, run_pk: int) -> Path:
        return self.data_dir / "runs" / f"run-{run_pk:05d}"

    def upload_dir_for(self, run_pk: int) -> Path:
        return self.data_dir / "uploads" / f"run-{run_pk:05d}"

    def submit(self, run_pk: int, spec: RunSpec) -> None:
        """Queue the run; a worker takes it (at once when it is this process's own)."""
        from yidan.jobs.queue import enqueue
        from yidan.jobs.worker import spec_payload

        with session_scope(self.sessions) as s:
            enqueue(s, kind="run", payload=spec_payload(spec), run_pk=run_pk)
        self.notify()

    def notify(self) -> None:
        if self.queue_worker is not None:
            self.queue_worker.wake.set()

    def _progress(self, run_pk: int, label: str) -> None:
        with session_scope(self.sessions) as s:
            run_crud.set_progress(s, run_pk=run_pk, status="running", progress=label)

    def execute(self, run_pk: int, spec: RunSpec, owned: Callable[[], bool] | None = None) -> None:
        """Run the comparison and record its end on the run's row (unless `owned` says the job's lease
        was taken away meanwhile: then another worker has already failed the run with the reason)."""
        out_dir = self.run_dir_for(run_pk)
        try:
            self._progress(run_pk, "准备输入")
            with session_scope(self.sessions) as s:
                region = run_crud.run_region(s, run_pk=run_pk)
                decisions = write_link_decisions(s, self.upload_dir_for(run_pk) / "link_decisions.csv", region=region)
            spec.files["link_decisions"] = [decisions]
            if spec.config is None:
                spec.config = self.config
            if out_dir.exists():
                shutil.rmtree(out_dir)
            rundir = self.runner(spec, out_dir, lambda label: self._progress(run_pk, label))
            manifest = rundir.manifest
            ok = manifest.get("status") == "complete"
            if owned is not None and not owned():
                log.warning("run %s finished after its lease expired; not recorded", run_pk)
                return
            with session_scope(self.sessions) as s:
                run_crud.finish_run(
                    s, run_pk=run_pk, status="complete" if ok else "failed", run_id=str(manifest.get("run_id")),
                    term=str(manifest.get("term")), totals=manifest.get("totals") or {},
                    error=None if ok else f"比对结果未完成（状态：{manifest.get('status')}）。", path=str(rundir.path),
                )
                run_crud.set_progress(s, run_pk=run_pk, status="complete" if ok else "failed",
                                      progress="完成" if ok else "失败")
        except Exception as exc:  # a failed run must say so, whatever failed
            log.exception("run %s failed", run_pk)
            if owned is not None and not owned():
                return
            message = str(exc) if isinstance(exc, YidanError) else f"比对异常终止：{type(exc).__name__}: {exc}"
            with session_scope(self.sessions) as s:
                run_crud.finish_run(s, run_pk=run_pk, status="failed", error=message)

    def wait(self, run_pk: int, timeout: float | None = None) -> None:
        """Until the run's latest job has ended (tests and scripts); TimeoutError after `timeout` seconds.
        Woken by this process's worker as each job ends (a job an external worker runs is looked at again
        every half second)."""
        from yidan.jobs.queue import latest_job

        deadline = None if timeout is None else time.monotonic() + timeout
        finished = self.queue_worker.finished if self.queue_worker is not None else threading.Condition()
        while True:
            with finished:
                with session_scope(self.sessions) as s:
                    job = latest_job(s, run_pk=run_pk)
                    if job is None or job.status in ("done", "failed"):
                        return
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"比对 {run_pk} 在 {timeout} 秒内没有结束")
                finished.wait(0.5)

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop this process's worker thread (the server stops): a heavy job's child process is terminated and
        its job failed with the reason before the process exits; a job running in the thread itself is
        left to its lease."""
        if self.queue_worker is not None:
            self.queue_worker.close()
            thread = self.queue_worker.thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
