"""Refusing a file given twice under two names: byte-identical inputs are one set of rows counted twice.

The same aid file sent twice and given as two files made every payment a duplicate payment.
Files are compared by size first (a stat call), and only files of equal size are hashed, so
the usual run, where no two inputs have the same size, reads nothing here.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from yidan.contract import TABLES
from yidan.errors import InputError

_CHUNK = 1 << 22


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _label(table: str, path: Path) -> str:
    spec = TABLES.get(table)
    return f"{path}（{spec.label}）" if spec else str(path)


def refuse_identical_files(files: Sequence[tuple[str, Path | str]]) -> None:
    """Raise `InputError` naming both files when two of `files` (table, path) have the same bytes.

    Missing, unreadable and empty files are left to the readers, which say what is wrong with them.

    >>> refuse_identical_files([("aid", Path("aid_2020秋.csv")), ("aid", Path("aid_copy.csv"))])  # doctest: +SKIP
    Traceback (most recent call last):
    yidan.errors.InputError: 文件 aid_copy.csv（资助发放）与 aid_2020秋.csv（资助发放）内容完全相同……
    """
    by_size: dict[int, list[tuple[str, Path]]] = defaultdict(list)
    for table, p in files:
        path = Path(p)
        try:
            size = path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
        if size:
            by_size[size].append((table, path))
    for group in by_size.values():
        if len(group) < 2:
            continue
        seen: dict[str, tuple[str, Path]] = {}
        for table, path in group:
            try:
                sha = _sha256(path)
            except OSError:
                continue
            if sha in seen:
                first_table, first = seen[sha]
                raise InputError(
                    f"文件 {_label(table, path)} 与 {_label(first_table, first)} 内容完全相同（SHA-256 {sha[:12]}…）："
                    "同一份数据给出了两次，其中的每一行都会被算两遍（如重复资助）。",
                    hint="每份数据只给一次：去掉其中一个文件后重试；如果本应是两份不同的数据，请检查是否复制错了文件。",
                )
            seen[sha] = (table, path)
