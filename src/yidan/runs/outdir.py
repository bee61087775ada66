"""Where `yidan run --out DIR` may write, who is writing there, and what a killed run left behind.

A run replaces DIR as a whole, so DIR must be something yidan made or nothing at all:

* `check_out_dir` refuses a plain file, a folder holding anything but an earlier run's own files
  (a user's documents, the folder of the inputs), and any input file inside DIR; there is no
  `--force` for a folder yidan did not make;
* `RunLock` is an exclusive lock (`flock`) on `.DIR.lock` beside DIR: a second run into the same DIR is
  refused, naming the first run's process and start time; the kernel releases the lock when a process
  dies, so a lock file left by a killed run is simply taken over;
* `swap_dirs` exchanges the new run and the old one in one step where the kernel can (Linux
  `renameat2(RENAME_EXCHANGE)`), so DIR is never missing, not even for an instant;
* `recover_leftovers`, called while holding the lock, puts back what a kill between the two final
  renames of a commit left aside where no swap was possible (`.DIR.old-PID` when DIR is missing) and
  removes temporary run directories (`.DIR.tmp-*`) of runs that can no longer finish.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yidan.contract.outputs import OUTPUTS
from yidan.outfiles import OutputError, output_error, pid_alive

MANIFEST = "manifest.json"
# what yidan itself writes into a run directory: the run's outputs, and `yidan diff`'s default workbook
RUN_FILES = frozenset({MANIFEST, "manifest.json.part", *(f"{name}.parquet" for name in OUTPUTS), "diff.xlsx"})
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)  # file systems without flock
NEXT_STEP = "请指定一个不存在的文件夹、空文件夹，或上一次 yidan run 写出的结果目录。"


def is_run_dir(path: Path) -> bool:
    """A folder written by `yidan run`: its manifest.json is a run's manifest."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "status" in manifest and "run_id" in manifest


def check_out_dir(out: Path, inputs: Iterable[Path] = ()) -> None:
    """Refuse an `--out` that a run would destroy or that holds the run's own inputs."""
    out = Path(out)
    where = out.resolve()
    for path in inputs:
        p = Path(path).resolve()
        if p == where or where in p.parents:
            raise OutputError(
                f"输入文件位于结果目录之内：{path}（结果目录 {out}）。比对会整体替换结果目录，输入文件会丢失。",
                hint="把输入文件放在结果目录之外，或另选一个结果目录。",
            )
    if out.is_symlink():
        raise OutputError(f"结果目录 {out} 是一个符号链接；比对不会替换它。", hint=NEXT_STEP)
    if out.exists() and not out.is_dir():
        raise OutputError(f"结果目录 {out} 是一个已有的文件，不是文件夹；比对不会替换它。", hint=NEXT_STEP)
    if not out.exists():
        return
    try:
        names = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise output_error(out, exc) from exc
    if not names:
        return
    if not is_run_dir(out):
        raise OutputError(
            f"结果目录 {out} 中已有文件（如 {_some(names)}），且不是 yidan run 写出的结果目录；"
            "比对会整体替换结果目录，这些文件会丢失，因此未运行。",
            hint=NEXT_STEP,
        )
    foreign = [n for n in names if n not in RUN_FILES]
    if foreign:
        raise OutputError(
            f"上一次的结果目录 {out} 中有不是比对写出的文件：{_some(foreign)}；替换结果目录会删除它们，因此未运行。",
            hint="先把这些文件移到别处，或另选一个结果目录。",
        )


def _some(names: list[str], n: int = 3) -> str:
    shown = "、".join(names[:n])
    return f"{shown} 等 {len(names)} 项" if len(names) > n else shown


class RunLock:
    """An exclusive lock on `.NAME.lock` beside the run directory, held for the whole run."""

    def __init__(self, out: Path) -> None:
        self.out = Path(os.path.normpath(Path(out).absolute()))
        self.path = self.out.parent / f".{self.out.name}.lock"
        self._fd: int | None = None
        self._by_pid = False

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # not a POSIX system: the PID in the file decides
            self._acquire_by_pid()
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            except OSError as exc:
                os.close(fd)
                if exc.errno not in _NO_FLOCK:
                    raise
                self._acquire_by_pid()  # a share without flock: the PID in the file decides
                return self
            except BaseException:
                os.close(fd)
                raise
            try:  # the file we locked may have been removed by the holder that just finished
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(self._info(), ensure_ascii=False).encode("utf-8"))
        self._fd = fd
        return self

    def _busy(self) -> OutputError:
        holder = self.holder()
        pid = holder.get("pid", "未知")
        started = holder.get("started_at", "未知时间")
        return OutputError(
            f"另一次比对正在写入结果目录 {self.out}（进程 {pid}，开始于 {started}），本次未运行。",
            hint=f"等那次比对结束后再运行，或换一个结果目录；如确认进程 {pid} 已不存在，删除 {self.path} 后重试。",
        )

    def _acquire_by_pid(self) -> None:
        holder = self.holder()
        pid = holder.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and holder.get("host") == socket.gethostname() and pid_alive(pid):
            raise self._busy()
        self.path.write_text(json.dumps(self._info(), ensure_ascii=False), encoding="utf-8")
        self._by_pid = True

    def _info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds")}

    def holder(self) -> dict[str, Any]:
        """Who holds (or last held) the lock: pid, host, started_at."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def release(self) -> None:
        if self._by_pid:
            self._by_pid = False
            with contextlib.suppress(OSError):
                self.path.unlink()
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def swap_dirs(a: Path, b: Path) -> bool:
    """Exchange two existing paths atomically; False where the system or file system cannot
    (the caller then falls back to two renames)."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not Linux, or a C library without renameat2
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def recover_leftovers(out: Path) -> list[str]:
    """Put back or remove what killed runs left beside `out` (call it holding the `RunLock`).

    Returns what was done, in Chinese, for the run's notes."""
    out = Path(os.path.normpath(Path(out).absolute()))
    done: list[str] = []
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    if olds and not out.exists() and not out.is_symlink():
        olds[0].rename(out)  # a kill between the two renames of a commit: the previous run comes back
        done.append(f"恢复了上次被中断时移开的结果目录 {out}")
        olds = olds[1:]
    for old in olds:
        if old.is_dir() and is_run_dir(old):
            shutil.rmtree(old, ignore_errors=True)
            done.append(f"删除了已被替换的旧结果 {old.name}")
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        if tmp.is_dir() and ((tmp / MANIFEST).is_file() or not any(tmp.iterdir())):
            shutil.rmtree(tmp, ignore_errors=True)
            done.append(f"删除了被中断的比对留下的临时目录 {tmp.name}")
    return done
