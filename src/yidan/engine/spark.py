"""The Spark engine: a SparkSession set up so the Ibis steps and Splink run on it unchanged.

Imported only when `--engine spark` is asked for (`yidan.engine.connect`), so a plain
install never needs pyspark or Java. Everything that differs between a laptop
(`local[2]`) and a cluster (`spark://…`, `yarn`) is the master URL and the paths.

Why each setting (the traps are measured, see docs/dev/spark-notes.md):

* Every run gets its own database, located in a run-specific directory, and the session's
  warehouse directory is a fresh temporary directory: Ibis' `create_table` writes managed
  tables, and a directory left by an earlier run makes the next one fail with
  `LOCATION_ALREADY_EXISTS`. A separate database also keeps two engines sharing one JVM
  (tests, the web worker) from overwriting each other's `links` or `findings`.
* Session time zone UTC: dates must not shift when they pass through timestamps.
* Few shuffle partitions in local mode: the default 200 makes a 2-core run spend its time
  scheduling empty tasks.
* Splink's Scala similarity jar on the class path and a checkpoint directory: the Spark
  backend of Splink registers `jaro_winkler` etc. from that jar and breaks lineage by
  writing Parquet under the checkpoint directory.
* Float literals typed as DOUBLE (`_typed_float_literals`): Ibis writes `1.0` bare, which
  Spark SQL reads as DECIMAL(2,1); a step that stores `match_probability=1.0` then gets a
  decimal column that no longer unions with the float64 one from Splink.
* A staging DuckDB connection (`engine.duckdb`): ingest validates files with DuckDB on
  both engines; `yidan.engine.parquet_bridge` hands the validated tables to Spark as Parquet.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
from pyspark.sql import SparkSession

from yidan.engine import Engine
from yidan.errors import EngineError
from yidan.settings import EngineConfig

log = logging.getLogger(__name__)

# Quiet JVM logs: only errors reach the terminal (users read Chinese progress lines, not log4j).
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.netlib.name = dev.ludovic.netlib
logger.netlib.level = off
logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop.level = off
"""


@dataclass
class SparkEngine(Engine):
    """An `Engine` whose tables live in one Spark database of their own."""

    database: str = ""
    owns_session: bool = True
    # local mode: step tables are kept in memory (see `materialize`); on a cluster, Parquet tables
    in_memory: bool = False
    _kept: dict[str, Any] = field(default_factory=dict)  # the checkpointed DataFrames, until close

    def materialize(self, name: str, expr: Any) -> Any:
        """Compute `expr` once and keep it as table `name` of this run.

        Local mode: the result is computed once into the block manager (`localCheckpoint`:
        memory, spilling to local disk) and named by a temporary view of this engine's
        session. Writing a managed Parquet table instead costs a write job, file commits,
        a catalog entry and a file listing on every later read, for tables of a few MB.
        The checkpoint also cuts the lineage: `persist()` keeps each table's whole plan,
        so plans grow step after step, and at county size AQE's plan strings alone ran
        a 1 GB driver out of heap (measured). The view's plan reads the checkpointed
        data, so a later `materialize(name, expr_reading_name)` is fine (a managed table
        cannot be overwritten from itself). Everything is released by `close`.

        On a cluster: a managed Parquet table in the run's database, as before (executor
        memory is not where a multi-hour run should keep its only copy).
        """
        if not self.in_memory:
            return self.ibis.create_table(name, expr, overwrite=True)
        backend = self.ibis
        backend._run_pre_execute_hooks(expr)
        df = self.spark.sql(backend.compile(expr))
        # eager: errors and time belong to the step that asked for the table
        df = df.localCheckpoint(eager=True)
        _broadcast_if_small(df).createOrReplaceTempView(name)
        # a replaced table's blocks stay until `close`: a temporary view made from a query
        # on the old name (Splink's tables) still reads them, and they cannot be recomputed;
        # kept without the hint, whose plan is no longer the bare LogicalRDD `_release` frees
        self._kept[f"{name}#{len(self._kept)}"] = df
        return backend.table(name)

    def release(self, name: str) -> None:
        """Drop table `name` of this run: its checkpointed blocks (local mode) or its table.

        Every table is a checkpoint of its own (`materialize`), so no other table reads the blocks
        freed here; the run's steps declare which tables they no longer read (`pipeline.steps`)."""
        if not self.in_memory:
            self.ibis.drop_table(name, force=True)
            return
        for key in [k for k in self._kept if k.rsplit("#", 1)[0] == name]:
            _release(self._kept.pop(key))
        if not self.spark.catalog.dropTempView(name):  # an input: a table over its Parquet copy
            self.ibis.drop_table(name, force=True)

    def close(self) -> None:
        """Drop this run's database and temporary files; stop the session if this engine started it."""
        for df in self._kept.values():
            _release(df)
        self._kept.clear()
        try:
            if self.spark is not None and self.database:
                self.spark.sql(f"DROP DATABASE IF EXISTS `{self.database}` CASCADE")
        except Exception:  # noqa: BLE001 - closing must not mask the real error
            pass
        if self.duckdb is not None:
            try:
                self.duckdb.close()
            except Exception:  # noqa: BLE001
                pass
        if self.owns_session and self.spark is not None:
            try:
                self.spark.stop()
            except Exception:  # noqa: BLE001
                pass
        for path in self._tmp:
            shutil.rmtree(path, ignore_errors=True)


def broadcast_threshold(session: Any) -> int:
    """The session's `spark.sql.autoBroadcastJoinThreshold` in bytes (Spark writes it '10485760b'; -1: off)."""
    return int(session._jsparkSession.sessionState().conf().autoBroadcastJoinThreshold())


def _broadcast_if_small(df: Any) -> Any:
    """`df` (a `localCheckpoint`ed DataFrame) with a broadcast hint when its blocks are small.

    The checkpoint's plan (one LogicalRDD) keeps the optimiser's size *estimate* of the query
    that computed it: a table of a few thousand rows derived from the enrollment is estimated
    at the enrollment's size, so every later join with it is planned as a sort-merge join that
    shuffles both sides (AQE turns it into a broadcast only after the big side's shuffle has been
    written). The block manager knows the real size once the checkpoint is computed; a table
    within `spark.sql.autoBroadcastJoinThreshold` is marked for broadcast, so the joins with it
    leave the other side where it is. Any failure keeps `df` as it was: a planning hint, never a
    condition of the result.
    """
    try:
        threshold = broadcast_threshold(df.sparkSession)
        if threshold <= 0:
            return df
        rdd_id = df._jdf.queryExecution().logical().rdd().id()
        for info in df.sparkSession.sparkContext._jsc.sc().getRDDStorageInfo():
            if info.id() == rdd_id:
                stored = int(info.memSize()) + int(info.diskSize())
                return df.hint("broadcast") if stored <= threshold else df
    except Exception:  # noqa: BLE001 - a planning hint, never an error (another Spark version: no hint)
        log.debug("checkpoint size not read", exc_info=True)
    return df


def _release(df: Any) -> None:
    """Free the blocks of a `localCheckpoint`ed DataFrame (its plan is one LogicalRDD)."""
    try:
        df._jdf.queryExecution().logical().rdd().unpersist(False)
    except Exception:  # noqa: BLE001 - freeing memory early is an optimisation, never an error
        pass


def _typed_float_literals() -> None:
    """Make Ibis' PySpark SQL carry the types Ibis believes in (idempotent).

    * Float literals: Ibis 12 emits a bare `1.0`, which Spark types as DECIMAL(2,1) (Spark,
      unlike DuckDB, reads a decimal point as a decimal literal); now `CAST(1.0 AS DOUBLE)`.
    * Ranking windows: `row_number()`, `rank()`, `dense_rank()` are INT on Spark and BIGINT on
      DuckDB; Ibis types them int64 and drops `.cast("int64")` as a no-op, so a stored
      `reg_key` became int32 on Spark and no longer unioned with int64 keys. Now cast to BIGINT.

    Upstream behaviour of Ibis 12; remove when Ibis types these itself.
    """
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    literal = PySparkCompiler.visit_NonNullLiteral
    if getattr(literal, "_yidan_typed", False):
        return
    window = PySparkCompiler.visit_WindowFunction

    def visit_NonNullLiteral(self: Any, op: Any, *, value: Any, dtype: Any) -> Any:
        result = literal(self, op, value=value, dtype=dtype)
        if dtype.is_floating() and result is not None:
            return self.cast(result, dtype)
        return result

    def visit_WindowFunction(self: Any, op: Any, **kwargs: Any) -> Any:
        result = window(self, op, **kwargs)
        return self.cast(result, op.dtype) if op.dtype.is_integer() else result

    visit_NonNullLiteral._yidan_typed = True  # type: ignore[attr-defined]
    PySparkCompiler.visit_NonNullLiteral = visit_NonNullLiteral  # type: ignore[method-assign]
    PySparkCompiler.visit_WindowFunction = visit_WindowFunction  # type: ignore[method-assign]


_typed_float_literals()


def local_cores(master: str) -> int | None:
    """Cores of a `local[N]` master (None for a cluster URL or `local[*]`)."""
    m = re.fullmatch(r"local(?:\[(\d+)(?:,\d+)?\])?", master.strip())
    if not m:
        return None
    return int(m.group(1) or 1)


def spark_memory(limit: str | None) -> str | None:
    """DuckDB-style `4GB` / `512MB` to the JVM's `4g` / `512m` (None if not given)."""
    if not limit:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT])i?B?\s*", limit, flags=re.IGNORECASE)
    if not m:
        raise EngineError(
            f"无法识别的内存上限：{limit}",
            hint="写成整数加单位，例如 4GB 或 512MB。",
        )
    return f"{m.group(1)}{m.group(2).lower()}"


def runtime_conf(config: EngineConfig) -> dict[str, str]:
    """SQL settings set on every session an engine uses (also one joined, not started, here)."""
    conf = {
        "spark.sql.session.timeZone": "UTC",
        # DuckDB writes "k":null in JSON; Spark's to_json drops null fields unless told not to
        "spark.sql.jsonGenerator.ignoreNullFields": "false",
    }
    cores = local_cores(config.spark_master)
    if cores:
        conf["spark.sql.shuffle.partitions"] = str(max(2, 2 * cores))
    return conf


def session_conf(config: EngineConfig, tmp: Path) -> dict[str, str]:
    """The Spark settings one run needs, as plain key/value pairs (shown in docs/dev/spark-notes.md)."""
    from splink.backends.spark import similarity_jar_location

    log4j = tmp / "log4j2.properties"
    log4j.write_text(_LOG4J2, encoding="utf-8")
    cores = local_cores(config.spark_master)
    conf = {
        "spark.app.name": "yidan",
        "spark.sql.warehouse.dir": str(tmp / "warehouse"),
        "spark.jars": similarity_jar_location(),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        # the driver's host name must resolve on machines without DNS for their own name
        "spark.driver.host": "127.0.0.1" if cores else "",
        "spark.driver.bindAddress": "127.0.0.1" if cores else "",
    }
    conf.update(runtime_conf(config))
    if cores:
        conf["spark.default.parallelism"] = str(max(2, 2 * cores))
        memory = spark_memory(config.memory_limit)
        if memory:
            conf["spark.driver.memory"] = memory
    return {k: v for k, v in conf.items() if v}


def connect_spark(config: EngineConfig) -> SparkEngine:
    """Start (or join) a SparkSession for one run and return it as an `Engine`.

    >>> engine = connect_spark(EngineConfig(name="spark", spark_master="local[2]"))  # doctest: +SKIP
    >>> engine.ibis.create_table("t", ibis.memtable({"x": [1]}))  # doctest: +SKIP
    """
    tmp = Path(tempfile.mkdtemp(prefix="yidan-spark-"))
    active = SparkSession.getActiveSession()
    try:
        if active is None:
            builder = SparkSession.builder.master(config.spark_master)
            for key, value in session_conf(config, tmp).items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
        else:
            # a session of its own (SQL settings, current database, temporary views) on the
            # running SparkContext: two engines in one process never see each other's tables
            session = active.newSession()
        for key, value in runtime_conf(config).items():
            session.conf.set(key, value)
        checkpoints = tmp / "checkpoints"
        if session.sparkContext.getCheckpointDir() is None:
            session.sparkContext.setCheckpointDir(str(checkpoints))
        backend = ibis.pyspark.connect(session)
        database = f"yidan_{uuid.uuid4().hex[:12]}"
        session.sql(f"CREATE DATABASE `{database}` LOCATION '{(tmp / database).as_posix()}'")
        session.catalog.setCurrentDatabase(database)
    except EngineError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:  # Java missing, bad master URL, port in use ...
        shutil.rmtree(tmp, ignore_errors=True)
        raise EngineError(
            f"无法启动 Spark（master={config.spark_master}）：{_first_line(exc)}",
            hint="确认已安装 Java 17 并设置 JAVA_HOME，--spark-master 地址可以访问；本机试用可写 local[2]。",
        ) from None

    from yidan.engine import connect

    staging = connect(
        EngineConfig(
            name="duckdb",
            memory_limit=config.memory_limit,
            temp_directory=config.temp_directory,
            threads=config.threads,
        )
    )
    engine = SparkEngine(
        "spark",
        backend,
        duckdb=staging.duckdb,
        spark=session,
        database=database,
        owns_session=active is None,
        in_memory=local_cores(session.sparkContext.master or "") is not None,
    )
    engine._tmp.append(tmp)
    return engine


def splink_api(engine: Engine) -> Any:
    """Splink's Spark backend on the engine's session, tuned for where it runs.

    Local mode: intermediate tables are persisted in memory (`break_lineage_method="persist"`)
    instead of being written as Parquet under the checkpoint directory, and repartitioned
    into 2 × cores partitions, not the 100 Splink derives from 200 shuffle partitions.
    On a cluster Splink's defaults (Parquet checkpoints, shuffle-derived partitions) stay.
    """
    from splink import SparkAPI

    master = engine.spark.sparkContext.master
    cores = local_cores(master)
    if cores:
        return SparkAPI(spark_session=engine.spark, break_lineage_method="persist",
                        num_partitions_on_repartition=max(2, 2 * cores))
    return SparkAPI(spark_session=engine.spark)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
