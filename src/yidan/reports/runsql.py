"""SQL over a run directory's Parquet files, for the reports.

Reports aggregate and stream findings relationally: DuckDB reads the run's Parquet
files in place (views, no copy), so a province-sized run is never loaded into Python.
"""

from __future__ import annotations

from typing import Any

import duckdb

from yidan.contract.outputs import OUTPUTS
from yidan.runs.rundir import RunDir


def sql_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def connect(run: RunDir, *, prefix: str = "", con: duckdb.DuckDBPyConnection | None = None) -> Any:
    """A DuckDB connection with one view per run output (`findings`, `persons`, `summary`, ...).

    `prefix` names the views of a second run on the same connection (e.g. "prev_").
    """
    con = con or duckdb.connect()
    for name in ("persons", "findings", "summary"):
        path = run.parquet_path(name)
        if path.is_file():
            source = f"read_parquet({sql_literal(str(path))})"
            present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            # columns of a later layout read as empty in a run written before them (contract/outputs.py)
            added = "".join(f", NULL::{_SQL_TYPES.get(c.type, c.type)} AS {c.name}"
                            for c in OUTPUTS[name].columns if c.name not in present)
            con.execute(f"CREATE OR REPLACE VIEW {prefix}{name} AS SELECT *{added} FROM {source}")
    return con


_SQL_TYPES = {"string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "float64": "DOUBLE", "boolean": "BOOLEAN",
              "date": "DATE", "decimal(14, 2)": "DECIMAL(14, 2)", "decimal(18, 2)": "DECIMAL(18, 2)"}


def has_view(con: Any, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0]
    )


def rows(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """A small result as dicts (aggregates only; never a big table)."""
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def with_due_dates(con: Any, due_dates: Any = None) -> None:
    """The `findings` view gains `due_date` (text) from an Arrow table (finding_key, due_date) the
    application passes in; NULL without one (a workbook written outside the application)."""
    if not has_view(con, "findings"):
        return
    con.execute("ALTER VIEW findings RENAME TO findings_without_due")
    if due_dates is None:
        con.execute("CREATE VIEW findings AS SELECT *, NULL::VARCHAR AS due_date FROM findings_without_due")
        return
    con.register("due_dates_input", due_dates)
    con.execute("CREATE VIEW findings AS SELECT f.*, d.due_date::VARCHAR AS due_date FROM findings_without_due f "
                "LEFT JOIN due_dates_input d ON d.finding_key = f.finding_key")
