"""Parquet through DuckDB: column names are the header, every value read back as text.

Typed Parquet columns are cast to VARCHAR so the same SQL validates them as CSV text: an ID
stored as a floating-point number reads in scientific notation and is rejected as mangled, a
DATE reads as 2020-09-01. Rows are numbered from 1 in file order (`file_row_number`).

The staged rows are a view over the file when its row groups let the threads share the work:
the validation query (and the few dictionaries of low-cardinality columns) then read the
Parquet file directly and the raw text is never materialised (1.4 CPU s per million rows
saved). DuckDB parallelises a Parquet scan by row group only, so with many threads a file of
one large row group would validate on one thread: such a file is copied into a table first
(the copy is the part that stays on one thread), faster on the wall clock though not in CPU.
"""

from __future__ import annotations

from pathlib import Path

from yidan.contract import Table
from yidan.errors import InputError
from yidan.ingest.headers import match_headers
from yidan.ingest.rules import q
from yidan.ingest.staging import Staged, temp_name


def read_parquet(con, table: Table, path: Path, *, label: str) -> Staged:
    source = f"read_parquet({q(str(path))}, file_row_number = true)"
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except Exception as exc:  # duckdb.Error for a file that is not Parquet
        raise InputError(f"无法读取 Parquet 文件 {path}：{exc}", hint="请确认文件是完整的 Parquet 文件。") from None
    headers = [n for n in names if n != "file_row_number"]
    match = match_headers(table, headers, where=f"文件 {path}")
    cols = ", ".join(f'CAST("{headers[pos].replace(chr(34), chr(34) * 2)}" AS VARCHAR) AS "{alias}"' for alias, pos in match.positions.items())
    name = temp_name("stage")
    select = f"SELECT {q(label)} AS _file, CAST(file_row_number + 1 AS BIGINT) AS _row, {cols} FROM {source}"
    if _streams_evenly(con, path):
        con.execute(f"CREATE TEMP VIEW {name} AS {select}")
        read = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]  # from the file's metadata
        staged = Staged(name, label, read, list(match.positions), match.extras, match.notes)
        staged.drops = [f"DROP VIEW IF EXISTS {name}"]
        return staged
    con.execute(f"CREATE TEMP TABLE {name} AS {select}")
    read = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return Staged(name, label, read, list(match.positions), match.extras, match.notes)


# validating a row from the file costs about twice as much as copying it (province-tenth preset:
# 2.9-3.7 vs 1.4 CPU us per row)
_VALIDATE_OVER_COPY = 2.0


def _streams_evenly(con, path: Path) -> bool:
    """True when validating straight from the file is expected to be as fast as copying it first.

    Straight from the file the wall time follows the largest row group (one thread each); after a
    copy it is that row group's copy plus an even share of the validation. With validation twice
    the cost of a copy, the file streams when its largest row group is at most twice an even
    share: always on 2 threads; on 16, a file needs 8 or more row groups of similar size.
    """
    rows, largest = con.execute(
        "SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM (SELECT DISTINCT row_group_id, row_group_num_rows AS n "
        "FROM parquet_metadata(?))", [str(path)]).fetchone()
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    share = rows / max(threads, 1)
    return largest * (_VALIDATE_OVER_COPY - 1) <= share * _VALIDATE_OVER_COPY
