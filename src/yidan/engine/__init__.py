"""The connection to the engine: DuckDB (default, embedded) or Spark (optional extra).

Everything backend-specific lives here; pipeline steps receive an Ibis backend and
never import duckdb or pyspark themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis

from yidan.errors import EngineError
from yidan.settings import EngineConfig


@dataclass
class Engine:
    name: str
    ibis: Any  # ibis BaseBackend
    # the raw DuckDB connection (ingest writes through it); None on Spark
    duckdb: Any = None
    spark: Any = None
    _tmp: list[Path] = field(default_factory=list)

    def materialize(self, name: str, expr: Any) -> Any:
        """Compute `expr` once and keep it as table `name` (replacing one of that name); returns it.

        DuckDB: a table of the connection. The Spark engine overrides this (in-memory in local mode).
        """
        return self.ibis.create_table(name, expr, overwrite=True)

    def release(self, name: str) -> None:
        """Drop table (or view) `name`: no later step reads it, and its memory is free for theirs.

        DuckDB keeps every table of the run in memory; one no longer read would otherwise be
        spilled to the temporary directory and read back as later steps need the room.
        """
        kind = self.duckdb.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
        if kind is not None:
            quoted = '"' + name.replace('"', '""') + '"'
            self.duckdb.execute(f"DROP {'VIEW' if kind[0] == 'VIEW' else 'TABLE'} {quoted}")

    def close(self) -> None:
        try:
            self.ibis.disconnect()
        except Exception:  # noqa: BLE001 - closing must not mask the real error
            pass


def connect(config: EngineConfig | None = None, *, database: str = ":memory:") -> Engine:
    config = config or EngineConfig()
    if config.name == "duckdb":
        import duckdb

        con = duckdb.connect(database)
        if config.memory_limit:
            con.execute(f"SET memory_limit = '{config.memory_limit}'")
        if config.temp_directory:
            con.execute(f"SET temp_directory = '{config.temp_directory}'")
        if config.threads:
            con.execute(f"SET threads = {int(config.threads)}")
        con.execute("SET preserve_insertion_order = false")
        backend = ibis.duckdb.from_connection(con)
        return Engine("duckdb", backend, duckdb=con)
    if config.name == "spark":
        try:
            from yidan.engine.spark import connect_spark
        except ImportError:
            raise EngineError(
                "未安装 Spark 引擎。",
                hint="运行 pip install 'yidan[spark]' 安装 PySpark（需要 Java 17），或去掉 --engine spark 使用默认的 DuckDB。",
            ) from None
        return connect_spark(config)
    raise EngineError(f"未知的计算引擎：{config.name}", hint="可选 duckdb（默认）或 spark。")
