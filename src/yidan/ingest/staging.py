"""What a reader hands to the validator: a DuckDB table of raw text, one row per data row of a file.

Every reader (CSV, XLSX, Parquet) produces the same shape — `_file`, `_row` (the row number the
user sees) and one VARCHAR column per contract column found in the file, named by its alias — so
the validation SQL does not care where the text came from.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

REJECTS = "rejects"
REJECTS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {REJECTS} (\"table\" VARCHAR, file VARCHAR, row_number BIGINT, "
    "\"column\" VARCHAR, value VARCHAR, reason VARCHAR)"
)
WHOLE_ROW = "（整行）"

_ids = itertools.count(1)


def temp_name(prefix: str) -> str:
    """A fresh name for a temporary table of this process."""
    return f"_yidan_{prefix}_{next(_ids)}"


def ensure_rejects(con) -> None:
    con.execute(REJECTS_DDL)


@dataclass
class Staged:
    name: str  # the DuckDB temp table with _file, _row and alias columns
    label: str  # the file as the user knows it (path, or path#sheet)
    read: int  # data rows read, rows the parser refused included
    aliases: list[str]  # contract columns present in the file
    extras: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None  # the text encoding read (CSV only)
    controls: bool = True  # may hold control characters (a CSV's byte scan says; others are checked in SQL)
    drops: list[str] = field(default_factory=list)  # SQL that frees what the reader made; default: the table

    def free(self, con) -> None:
        for sql in self.drops or [f"DROP TABLE IF EXISTS {self.name}"]:
            con.execute(sql)
