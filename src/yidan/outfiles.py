"""Writing files a user receives: atomically, with formula-safe cells, and with Chinese errors.

Every command that writes a file the user asked for (`report`, `sample`, `verify-import`, `diff`,
`template`, `check`'s rejects, web exports) goes through these helpers:

* `output_dir(path)` creates an output folder, or says in Chinese why it cannot;
* `atomic_output(path)` yields a temporary sibling path; the file appears under its real name only
  when the block finished without error (a killed or failed write leaves the old file, or nothing);
* `safe_cell(value)` neutralises cells that a spreadsheet would read as a formula (`= + - @`, tab,
  carriage return at the start), as the workbooks already do with `strings_to_formulas=False`;
* `write_csv(path, header, rows)` both of the above for CSV (UTF-8 with BOM, which Excel and WPS open);
* `output_error(path, exc)` turns an `OSError` into one Chinese line saying what to do;
* `os_error_in(exc)` finds the `OSError` behind a library's own exception (XlsxWriter's
  `FileCreateError`, an engine's "No space left on device"), so that one can be reported too.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from yidan.errors import InputError, YidanError

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
# how an engine or library words an OSError it does not raise as one (DuckDB, Arrow, Spark)
_STRERRORS = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
    "permission denied": errno.EACCES,
    "operation not permitted": errno.EPERM,
}


class OutputError(YidanError):
    """A file or folder the user asked for cannot be written (read-only, disk full, permission)."""


def safe_cell(value: Any) -> Any:
    """The value with a leading apostrophe when a spreadsheet would run it as a formula.

    Only text is changed; numbers stay numbers (a negative amount is a number, not text)."""
    if isinstance(value, str) and value.startswith(FORMULA_LEAD):
        return "'" + value
    return value


def output_error(path: Path | str, exc: OSError) -> OutputError:
    """One Chinese message for a failed write, by cause."""
    where = str(path)
    if exc.errno == errno.ENOSPC:
        return OutputError(f"磁盘空间不足，无法写入 {where}", hint="清理磁盘或换一个有足够空间的输出位置后重试。")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"没有写入权限：{where}", hint="换一个可写的输出位置，或请管理员开放该目录的写权限。")
    if exc.errno == errno.ENOENT:
        return OutputError(f"输出位置不存在：{where}", hint="先创建上级目录，或换一个已存在的输出位置。")
    if exc.errno == errno.EISDIR:
        return OutputError(f"输出位置是一个目录：{where}", hint="请给出文件名（含扩展名），而不是目录。")
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return OutputError(f"输出位置上已有一个同名的文件，不是文件夹：{where}", hint="换一个文件夹名，或先把该文件移走。")
    return OutputError(f"无法写入 {where}：{exc.strerror or exc}", hint="检查输出位置是否可写、磁盘是否已满后重试。")


def os_error_in(exc: BaseException) -> OSError | None:
    """The `OSError` that caused `exc`: itself, its cause or context, its first argument (XlsxWriter
    wraps the OSError of `close()` in `FileCreateError`), or one rebuilt from the words of an engine's
    message ("No space left on device"). None when `exc` has nothing to do with the file system."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno is not None:
            return e
        todo += [x for x in (e.__cause__, e.__context__, *e.args[:1]) if isinstance(x, BaseException)]
    text = str(exc).lower()
    for words, code in _STRERRORS.items():
        if words in text:
            return OSError(code, os.strerror(code))
    return exc if isinstance(exc, OSError) else None


def file_error(exc: OSError) -> YidanError:
    """One Chinese message for a file-system failure whose direction is not known (the CLI's last net)."""
    where = str(exc.filename) if exc.filename else "（未知文件）"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EISDIR):
        return output_error(where, exc)
    if exc.errno == errno.ENOENT:
        return read_error(where, exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return YidanError(f"没有权限读写：{where}", hint="检查该文件或文件夹的权限，或换一个位置后重试。")
    return YidanError(f"无法读写 {where}：{exc.strerror or exc}", hint="检查文件路径、权限和磁盘空间后重试。")


def read_error(path: Path | str, exc: OSError) -> InputError:
    """One Chinese message for a file that cannot be read, by cause."""
    where = str(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return InputError(f"没有读取权限：{where}", hint="请管理员开放该文件的读权限，或把文件复制到可读的位置后重试。")
    if exc.errno == errno.ENOENT:
        return InputError(f"找不到文件：{where}", hint="检查文件路径是否正确。")
    if exc.errno == errno.EISDIR:
        return InputError(f"应是文件，却是一个目录：{where}", hint="请给出文件名（含扩展名），而不是目录。")
    return InputError(f"无法读取 {where}：{exc.strerror or exc}", hint="检查文件是否完整、所在磁盘是否可用后重试。")


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renames it to `path` when the block succeeds.

    On any error the temporary file is removed and the previous file (if any) is left as it was;
    an `OSError` is re-raised as `OutputError` with a Chinese message."""
    target = Path(path)
    if target.is_dir():
        raise output_error(target, IsADirectoryError(errno.EISDIR, "is a directory"))
    _remove_dead_leftovers(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        cause = None if isinstance(exc, YidanError) else os_error_in(exc)
        if cause is not None:
            raise output_error(target, cause) from exc
        raise


def _remove_dead_leftovers(target: Path) -> None:
    """Temporary files of `target` left by processes that were killed (their PID no longer runs)."""
    for left in target.parent.glob(f".{glob_escape(target.name)}.tmp-*"):
        pid = left.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)) and left.is_file():
            with contextlib.suppress(OSError):
                left.unlink()


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def output_dir(path: Path | str) -> Path:
    """The output folder `path`, created if missing; a Chinese `OutputError` when it cannot be."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(folder, exc) from exc
    return folder


def write_csv(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """A CSV (UTF-8 with BOM) written atomically, every text cell formula-safe."""
    target = Path(path)
    with atomic_output(target) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([safe_cell(h) for h in header])
        for row in rows:
            w.writerow(["" if v is None else safe_cell(v) for v in row])
    return target
