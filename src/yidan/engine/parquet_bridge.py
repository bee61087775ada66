"""Parquet between the engines: validated inputs into Spark, results out as one file.

Ingest validates every input with DuckDB on both engines (row numbers, Chinese reasons,
rejects). On DuckDB the loaded tables already are the engine's tables. On Spark they are
written once to Parquet and declared as tables of the run's database, so Spark reads them
where they lie — on a cluster that directory is on HDFS, S3 or a shared mount
(`YIDAN_SPARK_STAGING`), reachable by every executor.

On the way out, the run directory wants one Parquet file per output on both engines;
Spark writes a directory of part files, which `write_parquet` streams into a single file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ibis

from yidan.engine import Engine
from yidan.errors import EngineError


def staging_dir(engine: Engine) -> str:
    """Where validated inputs are staged for Spark: `YIDAN_SPARK_STAGING` or the run's temp dir."""
    base = os.environ.get("YIDAN_SPARK_STAGING")
    if base:
        return base.rstrip("/") + f"/{getattr(engine, 'database', '') or uuid.uuid4().hex[:12]}"
    if not engine._tmp:
        raise EngineError("Spark 引擎没有临时目录，无法传递已校验的数据。", hint="用 yidan.engine.connect 创建引擎。")
    return str(engine._tmp[0] / "staged")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_tables(engine: Engine) -> set[str]:
    """Tables (and views) of the staging DuckDB connection."""
    if engine.duckdb is None:
        return set()
    rows = engine.duckdb.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {r[0] for r in rows}


def publish(engine: Engine, name: str) -> Any:
    """Make DuckDB table `name` a table of the engine and return it as an Ibis table.

    On DuckDB this is the table itself. On Spark the table is written to Parquet and
    declared (`CREATE TABLE … USING parquet LOCATION …`) in the run's database: no second
    copy in the warehouse, and a later `create_table(name, overwrite=True)` still works.
    """
    if engine.name == "duckdb":
        return engine.ibis.table(name)
    if engine.duckdb is None:
        raise EngineError(f"表 {name} 不在暂存库中，无法交给 Spark。", hint="先用 yidan.ingest 读入该表。")
    folder = f"{staging_dir(engine)}/{name}"
    if "://" not in folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True)
    target = f"{folder}/part-0.parquet".replace("'", "''")
    engine.duckdb.execute(f"COPY (SELECT * FROM {_quote(name)}) TO '{target}' (FORMAT parquet)").fetchall()
    engine.spark.sql(f"DROP TABLE IF EXISTS `{name}`")
    location = folder.replace("'", "\\'")
    engine.spark.sql(f"CREATE TABLE `{name}` USING parquet LOCATION '{location}'")
    return engine.ibis.table(name)


def publish_all(engine: Engine, names: Iterable[str]) -> list[str]:
    """`publish` every name that the staging DuckDB holds; returns the names published.

    A no-op on DuckDB (the tables are already there). Call it once after ingest, before
    the steps read `ctx.engine.ibis.table(...)`. Each published table is dropped from the
    staging DuckDB: Spark reads the Parquet copy, and at province size the staged tables
    held ~5 GB of the driver machine's memory for the rest of the run (measured).
    """
    if engine.name == "duckdb":
        return []
    present = duckdb_tables(engine)
    done = []
    for name in names:
        if name in present:
            publish(engine, name)
            kind = engine.duckdb.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
            engine.duckdb.execute(f"DROP {'VIEW' if kind and kind[0] == 'VIEW' else 'TABLE'} {_quote(name)}")
            done.append(name)
    return done


def write_parquet(engine: Engine, expr: ibis.Table, path: Path | str) -> None:
    """Write `expr` to ONE Parquet file at `path` on either engine.

    DuckDB writes the file directly. Spark writes part files in parallel into a sibling
    directory, which is then streamed batch by batch into the single file (memory stays
    at one row group). A remote `path` (`hdfs://`, `s3a://`) keeps Spark's directory.
    """
    target = str(path)
    if engine.name == "duckdb":
        engine.ibis.to_parquet(expr, target)
        return
    if "://" in target:
        engine.ibis.to_parquet(expr, target, mode="overwrite")
        return
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    parts = Path(target).with_name(Path(target).name + f".parts-{uuid.uuid4().hex[:8]}")
    try:
        engine.ibis.to_parquet(expr, str(parts))
        files = sorted(str(p) for p in parts.glob("*.parquet"))
        schema = _arrow_schema(expr)
        with pq.ParquetWriter(target, schema) as writer:
            if files:
                for batch in ds.dataset(files, format="parquet", schema=schema).to_batches():
                    writer.write_batch(batch)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def _arrow_schema(expr: ibis.Table) -> Any:
    """The Arrow schema Ibis gives `expr` — the same on both engines, so files compare equal."""
    return expr.schema().to_pyarrow()
