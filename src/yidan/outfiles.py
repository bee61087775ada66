"""Writing files a user receives: atomically, with formula-safe cells, and with Chinese errors.

Every command that writes a file the user asked for (`report`, `sample`, `verify-import`, `diff`,
`template`, `check`'s rejects, web exports) goes through these helpers:

* `atomic_output(path)` yields a temporary sibling path; the file appears under its real name only
  when the block finished without error (a killed or failed write leaves the old file, or nothing);
* `safe_cell(value)` neutralises cells that a spreadsheet would read as a formula (`= + - @`, tab,
  carriage return at the start), as the workbooks already do with `strings_to_formulas=False`;
* `write_csv(path, header, rows)` both of the above for CSV (UTF-8 with BOM, which Excel and WPS open);
* `output_error(path, exc)` turns an `OSError` into one Chinese line saying what to do.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from yidan.errors import YidanError

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


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
    return OutputError(f"无法写入 {where}：{exc.strerror or exc}", hint="检查输出位置是否可写、磁盘是否已满后重试。")


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renames it to `path` when the block succeeds.

    On any error the temporary file is removed and the previous file (if any) is left as it was;
    an `OSError` is re-raised as `OutputError` with a Chinese message."""
    target = Path(path)
    if target.is_dir():
        raise output_error(target, IsADirectoryError(errno.EISDIR, "is a directory"))
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise output_error(target, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_csv(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """A CSV (UTF-8 with BOM) written atomically, every text cell formula-safe."""
    target = Path(path)
    with atomic_output(target) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([safe_cell(h) for h in header])
        for row in rows:
            w.writerow(["" if v is None else safe_cell(v) for v in row])
    return target
