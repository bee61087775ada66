"""One heavy job run as the worker's child process runs it (yidan.jobs.child), for bench_web.py --run-dir.

    python bench/publish_probe.py publish URL RUN_PK USER_ID
    python bench/publish_probe.py workbooks URL RUN_PK DATA_DIR

Imports only what the child imports (the store and the job handlers, never the web application), runs the
job's handler and prints one JSON line: wall and CPU seconds, the peak resident memory of this process
(VmHWM, MB; imports included), whether the web application was imported, and the job's outcome.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace


def _peak_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def main(kind: str, url: str, run_pk: str, extra: str) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    from yidan.jobs.worker import HANDLERS
    from yidan.store.db import make_engine, session_factory, session_scope
    from yidan.store.errors import ActionError
    from yidan.store.models import Run

    sessions = session_factory(make_engine(url))
    imported_mb = _peak_mb()
    if kind == "publish":
        worker = SimpleNamespace(sessions=sessions, executor=SimpleNamespace(data_dir=Path(".")))
        payload = {"user_id": int(extra), "confirm": True}
    else:
        worker = SimpleNamespace(sessions=sessions, executor=SimpleNamespace(data_dir=Path(extra)))
        payload = {}
    t1, c1 = time.perf_counter(), time.process_time()
    try:
        ok, error = HANDLERS[kind](worker, int(run_pk), payload, lambda: True)  # type: ignore[arg-type]
        out: dict = {"ok": ok} if ok else {"ok": False, "error": error}
    except ActionError as exc:
        out = {"ok": False, "refused": exc.message}
    if kind == "publish" and out["ok"]:
        with session_scope(sessions) as s:
            run = s.get(Run, int(run_pk))
            totals = dict((run.totals or {}).get("publish") or {}) if run else {}
        out |= {k: totals.get(k) for k in ("opened", "kept", "reopened", "resolved", "updated", "unchanged")}
    return out | {"s": round(time.perf_counter() - t1, 2), "cpu_s": round(time.process_time() - c1, 2),
                  "with_imports_s": round(time.perf_counter() - t0, 2),
                  "with_imports_cpu_s": round(time.process_time() - c0, 2), "imports_mb": imported_mb,
                  "peak_mb": _peak_mb(),
                  "web_app_imported": any(m in sys.modules for m in ("fastapi", "starlette", "yidan.web.app"))}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5]), ensure_ascii=False))
