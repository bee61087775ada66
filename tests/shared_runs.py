"""Work done once per test session, shared by every pytest-xdist worker of that session.

`make test` runs the suite on two workers (`pytest -n 2`, see docs/dev/testing.md). A session fixture is
session-wide per *process*: without this module each worker would run the pipeline on the same inputs
again. `once(name, compute)` runs `compute(folder)` in the first process that asks for `name`, keeps its
folder and its (pickled) result under the session's shared temporary directory, and hands the same
result to every later caller, in this process or another one; a file lock makes a second worker wait
for the first instead of computing the same thing beside it.

The shared directory is the parent of the workers' base temporary directories (`pytest-N/`, beside
`popen-gw0/`, `popen-gw1/`) under xdist, and the session's own base temporary directory without it;
pytest deletes old ones (it keeps the last three sessions). A result that failed to compute is not kept:
the next caller computes it again (and fails the same way). `shared/computed.log` there lists what was
computed, its CPU and wall seconds, and the test that asked first: inputs asked for by one test only are
where sharing can still save time.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_BASE: list[Path] = []  # set by conftest's session fixture `_shared_runs_dir`
_DONE: dict[str, Any] = {}  # this process's results by name (no lock, no unpickling once known)


def set_base(basetemp: Path) -> None:
    """The session's base temporary directory (`tmp_path_factory.getbasetemp()`) of this process."""
    _BASE.clear()
    _BASE.append(basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp)


def base_dir() -> Path:
    if not _BASE:  # called outside a pytest session (a script importing the fixtures): this process only
        _BASE.append(Path(tempfile.mkdtemp(prefix="yidan-test-shared-")))
    folder = _BASE[0] / "shared"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file is closed
        yield


def once(name: str, compute: Callable[[Path], T]) -> T:
    """`compute(folder)` once per test session across workers; `folder` is empty and kept for the session.

    `name` must say everything the result depends on (a hash of the inputs); `compute` returns a picklable
    value (a path into `folder`, a RunDir, a dataclass of plain fields)."""
    if name in _DONE:
        return _DONE[name]  # type: ignore[no-any-return]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    base = base_dir()
    folder, result = base / safe, base / f"{safe}.pickle"
    with _locked(base / f"{safe}.lock"):
        if not result.exists():
            if folder.exists():  # left by a caller that failed
                shutil.rmtree(folder)
            folder.mkdir()
            started = time.process_time(), time.perf_counter()
            value = compute(folder)
            with (base / "computed.log").open("a", encoding="utf-8") as log:  # what each session computed, for whom
                log.write(f"{name}\t{time.process_time() - started[0]:.1f} cpu s\t"
                          f"{time.perf_counter() - started[1]:.1f} s\t{os.environ.get('PYTEST_CURRENT_TEST', '')}\n")
            partial = result.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(value))
            partial.replace(result)  # whole or absent, even if this process dies here
        _DONE[name] = pickle.loads(result.read_bytes())  # noqa: S301 (written just above by this test session)
    return _DONE[name]  # type: ignore[no-any-return]
