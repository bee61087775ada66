"""Reading a run directory (the contract's outputs of one comparison run).

Everything downstream of the pipeline (reports, the web application's publishing,
`yidan diff`) reads runs through this class, never through pipeline internals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from yidan.contract.outputs import OUTPUTS as DECLARED
from yidan.contract.outputs import OUTPUTS_LAYOUT
from yidan.errors import NotFoundError

OUTPUTS = tuple(DECLARED)


class RunDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        aside = sorted(self.path.parent.glob(f".{self.path.name}.old-*")) if not self.path.exists() else []
        if aside:  # a run killed between the two renames of its commit (where no swap was possible)
            raise NotFoundError(
                f"比对结果目录不存在：{self.path}（上一次比对被中断，原来的结果暂存在 {aside[0].name}）",
                hint=f"重新运行 yidan run --out {self.path}，会先恢复原来的结果再比对；或把 {aside[0]} 改名为 {self.path}。",
            )
        if not (self.path / "manifest.json").is_file():
            raise NotFoundError(
                f"不是比对结果目录（缺少 manifest.json）：{self.path}",
                hint="指定 yidan run --out 生成的目录。",
            )

    @cached_property
    def manifest(self) -> dict[str, Any]:
        path = self.path / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # cut off by a full disk, or edited by hand
            raise NotFoundError(f"比对结果目录的 manifest.json 无法读取（{type(exc).__name__}）：{path}",
                                hint="重新运行 yidan run 生成该结果目录。") from exc
        if not isinstance(data, dict):
            raise NotFoundError(f"比对结果目录的 manifest.json 不是比对清单：{path}", hint="重新运行 yidan run 生成该结果目录。")
        return data

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    def require_complete(self) -> RunDir:
        if not self.complete:
            raise NotFoundError(
                f"比对未完成（状态：{self.manifest.get('status')}）：{self.path}",
                hint="重新运行 yidan run，待其完成后再使用该目录。",
            )
        return self

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def term(self) -> str:
        return str(self.manifest["term"])

    def table(self, name: str, *, keep: dict[str, pa.Array] | None = None, columns: list[str] | None = None,
              where: dict[str, list[str]] | None = None) -> pa.Table:
        """The declared columns of `name` (or only `columns`, all declared). `keep` (column -> values) reads
        only the rows whose value in each named column is among the given ones: DuckDB semi-joins while it
        scans the file, vector by vector under a memory limit, so a few thousand persons out of millions cost
        little memory. `where` (column -> a few values) filters while the Parquet file is read (row groups
        and pages skipped by their statistics), with `columns` the cheap way to read a slice of a big table."""
        path = self.path / f"{name}.parquet"
        if not path.is_file():
            raise NotFoundError(f"比对结果缺少 {name}.parquet：{self.path}", hint="重新运行 yidan run。")
        try:
            if keep is not None:
                table = _semi_join(path, keep)
            elif columns is not None or where:
                table = _read_slice(path, columns, where or {})
            else:
                table = pq.read_table(path)
        except (OSError, pa.ArrowException, duckdb.Error) as exc:
            raise NotFoundError(f"比对结果文件损坏，无法读取：{path}", hint="重新运行 yidan run 生成该结果目录。") from exc
        declared = DECLARED.get(name)
        if declared is None:
            return table
        # a directory written with the declarations (its manifest names their layout) must hold every
        # declared column; one written before them is read with the missing columns empty
        self._require(name, [c for c in declared.names if c not in table.column_names
                             and (columns is None or c in columns)])
        schema = declared.arrow_schema()
        for c in declared.columns:
            if c.name not in table.column_names and (columns is None or c.name in columns):
                table = table.append_column(schema.field(c.name), pa.nulls(table.num_rows, schema.field(c.name).type))
        # only the declared columns reach readers (reports, publishing, diff): nothing downstream can
        # depend on a column the declarations do not promise
        return table.select([c for c in declared.names if columns is None or c in columns])

    def _require(self, name: str, absent: list[str]) -> None:
        """A directory written with the declarations (its manifest names their layout) must hold every
        declared column; one written before them is read with the missing columns empty (but findings and
        links must hold their required ones)."""
        declared = DECLARED[name]
        strict = self.manifest.get("outputs_layout") == OUTPUTS_LAYOUT
        missing = [c for c in absent if strict or c in declared.required]
        if missing and (strict or declared.name in ("findings", "links")):
            raise NotFoundError(
                f"比对结果 {name}.parquet 缺少规定的列：{'、'.join(missing)}（{self.path}）",
                hint="该目录不是 yidan run 写出的完整结果；请用当前版本重新运行 yidan run。",
            )

    def batches(self, name: str, *, columns: list[str], size: int) -> Iterator[pa.Table]:
        """`columns` (declared ones) of `name`, `size` rows at a time, read as they are used: a big table
        is never held whole (publishing streams the findings). A declared column the file lacks comes empty."""
        path = self.path / f"{name}.parquet"
        if not path.is_file():
            raise NotFoundError(f"比对结果缺少 {name}.parquet：{self.path}", hint="重新运行 yidan run。")
        declared = DECLARED[name]
        schema = declared.arrow_schema()
        try:
            reader = pq.ParquetFile(path)
            have = [c for c in columns if c in reader.schema_arrow.names]
            self._require(name, [c for c in columns if c not in have])
            for batch in reader.iter_batches(batch_size=size, columns=have, use_threads=False):
                table = pa.Table.from_batches([batch])
                for c in columns:
                    if c not in table.column_names:
                        table = table.append_column(schema.field(c), pa.nulls(table.num_rows, schema.field(c).type))
                yield table.select(columns)
        except (OSError, pa.ArrowException) as exc:
            raise NotFoundError(f"比对结果文件损坏，无法读取：{path}", hint="重新运行 yidan run 生成该结果目录。") from exc

    def parquet_path(self, name: str) -> Path:
        return self.path / f"{name}.parquet"

    def persons(self) -> pa.Table:
        return self.table("persons")

    def findings(self) -> pa.Table:
        return self.table("findings")

    def links(self) -> pa.Table:
        return self.table("links")

    def summary(self) -> pa.Table:
        return self.table("summary")

    def rejects(self) -> pa.Table:
        return self.table("rejects")


def _read_slice(path: Path, columns: list[str] | None, where: dict[str, list[str]]) -> pa.Table:
    """Only `columns` (those the file has) of the rows matching `where`, filtered while the file is read."""
    have = set(pq.read_schema(path).names)
    if any(c not in have for c in where):  # a column the file lacks: no row can match
        return pq.read_schema(path).empty_table().select([c for c in columns or have if c in have])
    filters = [(c, "in", list(v)) for c, v in where.items()] or None
    return pq.read_table(path, columns=[c for c in columns if c in have] if columns is not None else None,
                         filters=filters)


def _semi_join(path: Path, keep: dict[str, pa.Array]) -> pa.Table:
    """The rows of a Parquet file whose value in each column of `keep` is among its values (DuckDB)."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": "256MB"})
    try:
        names = [c for c in pq.read_schema(path).names if c in keep]
        if len(names) < len(keep):  # a column the file lacks: no row can match
            return pq.read_schema(path).empty_table()
        conds = []
        for i, col in enumerate(names):
            con.register(f"keep_{i}", pa.table({"v": keep[col]}))
            conds.append(f'"{col}" IN (SELECT v FROM keep_{i})')
        sql = f"SELECT * FROM read_parquet(?) WHERE {' AND '.join(conds)}"  # noqa: S608 - names from the file
        return con.sql(sql, params=[str(path)]).to_arrow_table()
    finally:
        con.close()
