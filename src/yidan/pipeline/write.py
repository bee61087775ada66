"""Writing the run directory atomically, and only where nothing of the user's can be lost.

Before anything is written, RUN_DIR is checked (`yidan.runs.outdir`): it must be absent, empty
or an earlier run directory, and no input may lie inside it; a lock beside it keeps a second run
out; what killed runs left beside it is put back or removed.
Everything is then written into a temporary directory beside RUN_DIR whose manifest says
`running`; only when every output is on disk does the manifest say `complete` and the
directory take RUN_DIR's name: swapped with the run it replaces in one step where the kernel can
(`renameat2(RENAME_EXCHANGE)`), otherwise by two renames on the same file system, the replaced run
moved aside first and removed only after the new one is in place (a kill between the two renames
is repaired by the next run). A run that fails is marked `failed` with the reason; a run that is
killed leaves only a `.RUN_DIR.tmp-*` directory that says `running`, which the next run removes.
No directory ever says complete early.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yidan.contract.outputs import OUTPUTS, OUTPUTS_LAYOUT
from yidan.engine.parquet_bridge import write_parquet
from yidan.errors import YidanError
from yidan.outfiles import output_error
from yidan.pipeline.context import RunContext
from yidan.pipeline.findings import conform
from yidan.runs.outdir import RunLock, check_out_dir, is_run_dir, recover_leftovers, swap_dirs


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunWriter:
    def __init__(self, out_dir: Path, manifest: dict[str, Any], *, inputs: Sequence[Path] = ()) -> None:
        """Check RUN_DIR, take its lock, repair leftovers and open the temporary directory.

        Raises `OutputError` (Chinese) when RUN_DIR may not be written; nothing is changed then."""
        self.out_dir = Path(os.path.normpath(Path(out_dir).absolute()))  # "a/.." names a, not ".."
        check_out_dir(self.out_dir, inputs)  # before anything is created: a refused --out stays as it was
        try:
            self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(self.out_dir.parent, exc) from exc
        try:
            self.lock = RunLock(self.out_dir).acquire()
        except OSError as exc:
            raise output_error(self.out_dir.parent, exc) from exc
        try:
            self.recovered = recover_leftovers(self.out_dir)
            check_out_dir(self.out_dir, inputs)  # what was put back is checked as well
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            self.tmp = self.out_dir.parent / f".{self.out_dir.name}.tmp-{stamp}-{os.getpid()}"
            self.tmp.mkdir()
            self.manifest = {**manifest, "status": "running", "started_at": now()}
            self.committed = False
            self.save_manifest()
        except BaseException as exc:
            if hasattr(self, "tmp"):
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.lock.release()
            if isinstance(exc, OSError):
                raise output_error(self.out_dir, exc) from exc
            raise

    def release(self) -> None:
        """Let the next run into RUN_DIR (called when this one is committed or failed)."""
        self.lock.release()

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
            target = self.tmp / f"{out}.parquet"
            if ctx.engine.name == "duckdb":
                _copy_sorted(ctx.engine, expr, output.sort_keys, target)
            else:
                write_parquet(ctx.engine, expr.order_by(list(output.sort_keys)), target)
        self.manifest["outputs_layout"] = OUTPUTS_LAYOUT  # every output conforms to its declaration
        ctx.timings["write"] = round(time.perf_counter() - t0, 3)

    def commit(self, extra: dict[str, Any]) -> Path:
        """Mark complete and move into place; a previous run in RUN_DIR is replaced only now,
        and removed only once the new one holds RUN_DIR's name."""
        self.manifest.update(extra)
        self.manifest["status"] = "complete"
        self.manifest["finished_at"] = now()
        self.save_manifest()
        old = None
        if self.out_dir.exists():
            check_out_dir(self.out_dir)  # the lock keeps yidan out; not a user who copied files in meanwhile
            if swap_dirs(self.tmp, self.out_dir):  # one step: RUN_DIR is never missing
                self.committed = True
                shutil.rmtree(self.tmp, ignore_errors=True)  # now the previous run
                return self.out_dir
            old = self.out_dir.parent / f".{self.out_dir.name}.old-{os.getpid()}"
            self.out_dir.rename(old)
        try:
            self.tmp.rename(self.out_dir)
        except BaseException:
            if old is not None:  # the previous run goes back where it was
                old.rename(self.out_dir)
            raise
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out_dir

    def _holds_failed_run(self) -> bool:
        """RUN_DIR holds only an earlier run that did not complete (nothing a user could lose)."""
        try:
            check_out_dir(self.out_dir)
            manifest = json.loads((self.out_dir / "manifest.json").read_text(encoding="utf-8"))
        except (YidanError, OSError, ValueError):
            return False
        return isinstance(manifest, dict) and manifest.get("status") == "failed"

    def fail(self, error: BaseException, extra: dict[str, Any]) -> Path:
        """Mark failed with the reason. Where RUN_DIR is free it takes the failed run (so the user
        sees why), and an earlier failed run there is replaced; an earlier complete run in RUN_DIR is
        never replaced by a failed one, the failed run goes to RUN_DIR.failed instead.
        Never raises: the original error is what the user sees."""
        if self.committed:  # interrupted while removing the replaced run: the new one is in place
            return self.out_dir
        self.manifest.update(extra)
        self.manifest["status"] = "failed"
        self.manifest["finished_at"] = now()
        self.manifest["error"] = str(error) or type(error).__name__
        try:
            self.save_manifest()
        except OSError:  # a full disk: the partial outputs make room for the manifest that says why
            for part in self.tmp.glob("*.parquet"):
                with contextlib.suppress(OSError):
                    part.unlink()
            try:
                self.save_manifest()
            except OSError:  # no manifest at all rather than one that says running or complete
                with contextlib.suppress(OSError):
                    (self.tmp / "manifest.json").unlink()
                return self.tmp  # the next run removes it
        try:
            if self.out_dir.is_dir() and not self.out_dir.is_symlink() and not any(self.out_dir.iterdir()):
                self.out_dir.rmdir()  # an empty folder the user made for the run takes the failed run
            if not self.out_dir.exists() and not self.out_dir.is_symlink():
                self.tmp.rename(self.out_dir)
                return self.out_dir
            if self._holds_failed_run() and swap_dirs(self.tmp, self.out_dir):
                shutil.rmtree(self.tmp, ignore_errors=True)  # the earlier failure: this reason is the news
                return self.out_dir
            failed = self.out_dir.parent / f"{self.out_dir.name}.failed"
            if failed.exists() and not is_run_dir(failed):
                return self.tmp  # a folder of that name that yidan did not make is left alone
            shutil.rmtree(failed, ignore_errors=True)
            self.tmp.rename(failed)
            return failed
        except OSError:
            return self.tmp


def _copy_sorted(engine: Any, expr: Any, keys: Sequence[str], target: Path) -> None:
    """`expr` sorted by `keys`, written by DuckDB's own Parquet writer (nothing passes through Python).

    The run's connection does not preserve insertion order (faster everywhere else); a sorted COPY
    needs it, so it is set for the statement and put back: the same inputs give the same rows in
    the same order. DuckDB marks a column REQUIRED (not null) in the file when its statistics say
    it holds no null, which would make a file's schema depend on its data; an empty branch of
    typed nulls keeps every column optional, as the declared outputs are (and as Arrow wrote them)."""
    con = engine.duckdb
    sql = str(engine.ibis.compile(expr))
    types = con.execute(f"DESCRIBE {sql}").fetchall()
    nulls = ", ".join(f"CAST(NULL AS {t[1]}) AS {_quote(t[0])}" for t in types)
    order = ", ".join(f"{_quote(k)} ASC NULLS LAST" for k in keys)
    path = str(target).replace("'", "''")
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(f"COPY (SELECT * FROM ({sql} UNION ALL SELECT {nulls} FROM range(0)) AS _o ORDER BY {order}) "
                    f"TO '{path}' (FORMAT parquet, COMPRESSION snappy)")
    finally:
        con.execute("SET preserve_insertion_order = false")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
