"""Step `load`: every input file into an engine table, through the ingest readers.

Tables the user gave no file for are still created, empty and with the contract's
types, so every later step can refer to them without asking whether they exist.
"""

from __future__ import annotations

import time
from typing import Any

import ibis
import ibis.expr.datatypes as dt
from ibis.common.exceptions import TableNotFound

from yidan.contract import INDICATOR_TABLES, TABLES, Kind, Table
from yidan.engine.parquet_bridge import duckdb_tables, publish_all
from yidan.ingest.identical import refuse_identical_files
from yidan.pipeline.context import RunContext

# the order tables are loaded in (and listed in the manifest)
LOAD_ORDER = ("registry", "enrollment", "out_of_province", "verifications", "aid", "policies", "link_decisions",
              "targets", "schools", "classes", "population")

_KIND_TYPES: dict[Kind, dt.DataType] = {
    Kind.DATE: dt.date,
    Kind.AMOUNT: dt.Decimal(14, 2),
    Kind.ENUM_LIST: dt.Array(dt.string),
    Kind.COUNT: dt.int64,
    Kind.YEAR: dt.int32,
}

REJECTS_SCHEMA = ibis.schema(
    {
        "table": "string",
        "file": "string",
        "row_number": "int64",
        "column": "string",
        "value": "string",
        "reason": "string",
    }
)


def table_schema(table: Table) -> ibis.Schema:
    """The engine schema ingest gives a contract table (used for tables without input files)."""
    fields: dict[str, Any] = {}
    for col in table.columns:
        fields[col.alias] = _KIND_TYPES.get(col.kind, dt.string)
        if col.kind is Kind.ID_NUMBER:
            fields[f"{col.alias}_valid"] = dt.boolean
            fields[f"{col.alias}_converted"] = dt.boolean
    fields["_file"] = dt.string
    fields["_row"] = dt.int32
    return ibis.schema(fields)


def _paths(ctx: RunContext, name: str) -> list:
    paths = getattr(ctx.inputs, name, None) or []
    return list(paths)


def load_inputs(ctx: RunContext) -> None:
    """Read every input with `yidan.ingest.load_table`; register all tables on the context."""
    con = ctx.engine.duckdb
    # ingest validates with DuckDB on every engine; on Spark the tables are published afterwards
    staging = ctx.engine.ibis if ctx.engine.name == "duckdb" else ibis.duckdb.from_connection(con)
    # the same bytes under two names (in one table or two) would count every row twice: refused first
    refuse_identical_files([(name, p) for name in LOAD_ORDER for p in _paths(ctx, name)])
    for name in LOAD_ORDER:
        paths = _paths(ctx, name)
        if paths:
            from yidan.ingest import load_table  # the ingest helper's reader

            t0 = time.perf_counter()
            result = load_table(con, name, paths, encoding=ctx.inputs.encoding, default_term=ctx.term.label)
            ctx.table_timings[name] = round(time.perf_counter() - t0, 3)
            for stats in result.files:
                ctx.file_stats.append(_file_stats(stats))
            if getattr(result, "notes", None):
                ctx.notes.setdefault("load", []).extend(str(n) for n in result.notes)
        if name not in duckdb_tables(ctx.engine):  # (Ibis' list_tables fails on DuckDB 2.0)
            staging.create_table(name, schema=table_schema(TABLES[name]))
    if "rejects" not in duckdb_tables(ctx.engine):
        staging.create_table("rejects", schema=REJECTS_SCHEMA)
    publish_all(ctx.engine, (*LOAD_ORDER, "rejects"))
    register_tables(ctx)
    ctx.counties = registry_counties(ctx)


def registry_counties(ctx: RunContext) -> list[str]:
    """The counties (6-digit codes) of the registry rows loaded: the run's coverage, for publishing."""
    if not ctx.has("registry"):
        return []
    reg = ctx.get("registry")
    got = reg.select(county=reg.hukou_code.substr(0, 6)).distinct().to_pyarrow()
    return sorted(str(c) for c in got["county"].to_pylist() if c)


# tables a step reads only where they are (the indicators' inputs; other target lists: `ctx.has("targets")`)
_OPTIONAL_TABLES = (*INDICATOR_TABLES, "targets")


def register_tables(ctx: RunContext) -> None:
    """Make the loaded tables known to the steps."""
    backend = ctx.engine.ibis
    for name in (*LOAD_ORDER, "rejects"):
        if name in _OPTIONAL_TABLES:  # read by the indicators or checked by `ctx.has`: where they are
            try:
                ctx.tables[name] = backend.table(name)
            except TableNotFound:  # a context built without them (tests, older callers)
                pass
            continue
        ctx.tables[name] = backend.table(name)


def _file_stats(stats: Any) -> dict[str, Any]:
    return {
        "table": stats.table,
        "path": str(stats.path),
        "sha256": stats.sha256,
        "read": int(stats.read),
        "loaded": int(stats.loaded),
        "rejected": int(stats.rejected),
        "encoding": getattr(stats, "encoding", None),
    }
