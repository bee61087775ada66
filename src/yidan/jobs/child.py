"""A heavy job of the in-process worker, run in a child process of its own (issue 21).

On SQLite `yidan serve` runs the job queue in a thread of the web process ("inprocess"). Publishing a
province and building its workbooks take tens of CPU seconds and hundreds of MB: run in that thread,
they share the interpreter, the GIL and the memory of the process that answers the pages. So the
thread claims the job, keeps its lease alive with heartbeats as ever, and hands the work to a child
started with `multiprocessing`'s *spawn* (a fresh interpreter: nothing of the web app is inherited or
imported — this module imports only the store and the job handlers), then records how it ended: the
child's own answer, or, when the child died (killed, out of memory), the job failed with the exit code.

The child opens its own engine on the same SQLite file, answers on a pipe and exits; it stops by
itself when its parent is gone (checked every second), so a killed server leaves no orphan behind.
Stopping the server terminates a running child and fails its job with the reason.
"""

from __future__ import annotations

import os
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

DIED = "执行任务的子进程异常退出（{why}），任务未完成，数据库未作更改；请查看服务日志（内存不足时由系统终止），修正后重新提交。"
STOPPED = "服务停止，执行中的任务被中断；服务启动后可重新提交。"


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:  # the web process is gone: so is the reason to go on
            os._exit(3)
        time.sleep(1.0)


def child_main(conn: Connection, database_url: str, data_dir: str, kind: str, run_pk: int | None,
               payload: dict[str, Any], parent_pid: int, log_settings: dict[str, Any] | None = None) -> None:
    """The child's entry: run `kind`'s handler, send (ok, error) back, exit."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="yidan-parent-watch").start()
    from yidan.jobs.worker import HANDLERS, failure_reason
    from yidan.logs import configure
    from yidan.settings import LogSettings
    from yidan.store.db import make_engine, session_factory

    configure(LogSettings.model_validate(log_settings or {}))
    engine = make_engine(database_url)
    # the handlers read `worker.sessions` and `worker.executor.data_dir`: the same, without the web app
    worker = SimpleNamespace(sessions=session_factory(engine), executor=SimpleNamespace(data_dir=Path(data_dir)))
    try:
        ok, error = HANDLERS[kind](worker, run_pk, payload, lambda: True)  # type: ignore[arg-type]
    except Exception as exc:  # a job that fails must say so, whatever failed
        import logging

        logging.getLogger(__name__).exception("job (%s, run %s) failed in its child process", kind, run_pk)
        ok, error = False, failure_reason(exc)
    conn.send((ok, error))
    conn.close()
    engine.dispose()
