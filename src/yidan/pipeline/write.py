"""Writing the run directory atomically.

Everything is written into a temporary directory beside RUN_DIR whose manifest says
`running`; only when every output is on disk does the manifest say `complete` and the
directory take RUN_DIR's name (a rename on the same file system). A run that fails is
marked `failed`; a run that is killed leaves only a `.RUN_DIR.tmp-*` directory that
says `running`, which the next run removes. No directory ever says complete early.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from yidan.contract.outputs import OUTPUTS, OUTPUTS_LAYOUT
from yidan.engine.parquet_bridge import write_parquet
from yidan.pipeline.context import RunContext
from yidan.pipeline.findings import conform


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunWriter:
    def __init__(self, out_dir: Path, manifest: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir).absolute()
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._clean_stale()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.tmp = self.out_dir.parent / f".{self.out_dir.name}.tmp-{stamp}-{os.getpid()}"
        self.tmp.mkdir()
        self.manifest = {**manifest, "status": "running", "started_at": now()}
        self.save_manifest()

    def _clean_stale(self) -> None:
        """Remove what killed runs left behind (their manifests say running, never complete)."""
        for old in self.out_dir.parent.glob(f".{self.out_dir.name}.tmp-*"):
            shutil.rmtree(old, ignore_errors=True)

    def save_manifest(self) -> None:
        path = self.tmp / "manifest.json"
        part = path.with_suffix(".json.part")
        part.write_text(json.dumps(self.manifest, ensure_ascii=False, indent=2, sort_keys=False), encoding="utf-8")
        part.replace(path)

    def write_outputs(self, ctx: RunContext) -> None:
        t0 = time.perf_counter()
        for out, output in OUTPUTS.items():
            # every output has exactly its declared columns (yidan.contract.outputs), sorted so the
            # same inputs give byte-identical files
            expr = conform(ctx.get(output.table), output)
            expr = expr.order_by(list(output.sort_keys))
            target = self.tmp / f"{out}.parquet"
            if ctx.engine.name == "duckdb":  # fetched in order: the same inputs give the same bytes
                pq.write_table(expr.to_pyarrow(), target)
            else:
                write_parquet(ctx.engine, expr, target)
        self.manifest["outputs_layout"] = OUTPUTS_LAYOUT  # every output conforms to its declaration
        ctx.timings["write"] = round(time.perf_counter() - t0, 3)

    def commit(self, extra: dict[str, Any]) -> Path:
        """Mark complete and move into place; a previous run in RUN_DIR is replaced only now."""
        self.manifest.update(extra)
        self.manifest["status"] = "complete"
        self.manifest["finished_at"] = now()
        self.save_manifest()
        old = None
        if self.out_dir.exists():
            old = self.out_dir.parent / f".{self.out_dir.name}.old-{os.getpid()}"
            self.out_dir.rename(old)
        self.tmp.rename(self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out_dir

    def fail(self, error: BaseException, extra: dict[str, Any]) -> Path:
        """Mark failed. Where RUN_DIR is free it takes the failed run (so the user sees why);
        an earlier complete run in RUN_DIR is never replaced by a failed one."""
        self.manifest.update(extra)
        self.manifest["status"] = "failed"
        self.manifest["finished_at"] = now()
        self.manifest["error"] = str(error) or type(error).__name__
        self.save_manifest()
        if not self.out_dir.exists():
            self.tmp.rename(self.out_dir)
            return self.out_dir
        failed = self.out_dir.parent / f"{self.out_dir.name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        self.tmp.rename(failed)
        return failed
