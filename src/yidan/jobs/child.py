"""A heavy job of the in-process worker, run in a child process of its own (issue 21).

On SQLite `yidan serve` runs the job queue in a thread of the web process ("inprocess"). Publishing a
province and building its workbooks take tens of CPU seconds and hundreds of MB: run in that thread,
they share the interpreter, the GIL and the memory of the process that answers the pages. So the
thread claims the job, keeps its lease alive with heartbeats as ever, and hands the work to a child
process, `python -m yidan.jobs.child` (a fresh interpreter: nothing of the web app is inherited or
imported — this module imports only the store and the job handlers), then records how it ended: the
child's own answer, or, when the child died (killed, out of memory), the job failed with the exit code.

The child reads its job as one JSON line on standard input (database URL, data directory, kind, run,
payload), opens its own engine on the same SQLite file, logs to standard error (the server's log) and
writes its answer as one JSON line on standard output. It stops by itself when its parent is gone
(checked every second), so a killed server leaves no orphan behind; stopping the server terminates a
running child and fails its job with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

DIED = "执行任务的子进程异常退出（{why}），任务未完成，数据库未作更改；请查看服务日志（内存不足时由系统终止），修正后重新提交。"
STOPPED = "服务停止，执行中的任务被中断；服务启动后可重新提交。"


def start(*, database_url: str, data_dir: Path, kind: str, run_pk: int | None, payload: dict[str, Any],
          log: dict[str, Any] | None = None) -> subprocess.Popen[bytes]:
    """Start the child for one job (the parent's side); its answer comes with `answer`."""
    package_root = str(Path(__file__).resolve().parents[2])  # the yidan this process runs, first on the path
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "yidan.jobs.child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, close_fds=True)
    request = {"database_url": database_url, "data_dir": str(data_dir), "kind": kind, "run_pk": run_pk,
               "payload": payload, "parent_pid": os.getpid(), "log": log or {}}
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(request, ensure_ascii=False) + "\n").encode())
    proc.stdin.close()
    return proc


def answer(proc: subprocess.Popen[bytes]) -> tuple[bool, str | None] | None:
    """The child's (ok, error) once it has exited; None when it died without answering."""
    assert proc.stdout is not None
    lines = proc.stdout.read().decode(errors="replace").strip().splitlines()
    proc.stdout.close()
    try:
        got = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return (bool(got["ok"]), got.get("error")) if isinstance(got, dict) and "ok" in got else None


def died(proc: subprocess.Popen[bytes]) -> str:
    code = proc.returncode
    return DIED.format(why=f"被信号 {-code} 终止" if code is not None and code < 0 else f"退出码 {code}")


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:  # the web process is gone: so is the reason to go on
            os._exit(3)
        time.sleep(1.0)


def main() -> int:
    """The child's side: run one job's handler and answer (ok, error) on standard output."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the job prints goes to the log, not into the answer
    request = json.loads(sys.stdin.readline())
    threading.Thread(target=_watch_parent, args=(request["parent_pid"],), daemon=True, name="yidan-parent").start()
    import logging

    from yidan.jobs.worker import HANDLERS, failure_reason
    from yidan.logs import configure
    from yidan.settings import LogSettings
    from yidan.store.db import make_engine, session_factory

    configure(LogSettings.model_validate(request.get("log") or {}))
    engine = make_engine(request["database_url"])
    # the handlers read `worker.sessions` and `worker.executor.data_dir`: the same, without the web app
    worker = SimpleNamespace(sessions=session_factory(engine), executor=SimpleNamespace(data_dir=Path(request["data_dir"])))
    kind, run_pk = request["kind"], request["run_pk"]
    try:
        ok, error = HANDLERS[kind](worker, run_pk, request["payload"], lambda: True)  # type: ignore[arg-type]
    except Exception as exc:  # a job that fails must say so, whatever failed
        logging.getLogger(__name__).exception("job (%s, run %s) failed in its child process", kind, run_pk)
        ok, error = False, failure_reason(exc)
    engine.dispose()
    out.write(json.dumps({"ok": ok, "error": error}, ensure_ascii=False) + "\n")
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
