"""Database operations for operators: backup, restore, and a health check of the database and data folder.

SQLite is copied with SQLite's own online backup (a consistent copy while the application runs);
PostgreSQL with `pg_dump --format=custom` and `pg_restore` (the client tools must be installed; the
message says so when they are not). A restore goes only into an empty database, never over data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from yidan.errors import ConfigError
from yidan.store.db import schema_revisions
from yidan.store.models import Base, Run

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in each of the application's tables present in the database."""
    present = set(inspect(engine).get_table_names())
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in present:
                out[table.name] = int(conn.scalar(select(func.count()).select_from(table)) or 0)
    return out


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise ConfigError("内存数据库无法备份或恢复。", hint="使用文件数据库，如 sqlite:///yidan.db。")
    return Path(database)


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore (without the password, which goes in PGPASSWORD) and their environment."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"没有找到 PostgreSQL 客户端程序 {name}，无法备份或恢复 PostgreSQL 数据库。",
                          hint="安装与数据库服务器同版本的客户端（如 apt-get install postgresql-client），"
                               "或把它所在目录加入 PATH 后重试。")
    return path


def _run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(f"{what}失败：{detail[-1] if detail else f'退出码 {done.returncode}'}",
                          hint="检查数据库地址、账号权限和磁盘空间后重试。")


def backup(engine: Engine, out: Path) -> Path:
    out = Path(out)
    if out.exists():
        raise ConfigError(f"备份文件已存在：{out}", hint="换一个文件名（建议带日期），不会覆盖已有备份。")
    out.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        src = sqlite3.connect(_sqlite_path(engine))
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return out
    tool = _tool("pg_dump")
    uri, env = _libpq(engine)
    try:
        with engine.connect() as conn:
            schema = conn.scalar(text("select current_schema()"))
    except OperationalError as exc:
        raise ConfigError(f"无法连接数据库：{engine.url.render_as_string(hide_password=True)}（{exc.orig}）",
                          hint="检查数据库地址、服务是否启动以及账号权限。") from None
    args = [tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={out}", f"--dbname={uri}"]
    if schema and schema != "public":
        args.append(f"--schema={schema}")
    _run_tool(args, env, "pg_dump 备份")
    return out


def restore(engine: Engine, source: Path) -> None:
    source = Path(source)
    if not source.is_file():
        raise ConfigError(f"找不到备份文件：{source}", hint="给出 yidan db backup --out 写出的文件。")
    with source.open("rb") as fh:
        head = fh.read(16)
    kind = "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PG_MAGIC) else None
    if kind is None:
        raise ConfigError(f"不是 yidan db backup 写出的备份文件：{source}", hint="确认文件完整、没有被改动。")
    if kind != engine.dialect.name:
        raise ConfigError(f"备份来自 {kind} 数据库，不能恢复到 {engine.dialect.name} 数据库。",
                          hint="恢复到与备份同类的数据库。")
    try:
        tables = inspect(engine).get_table_names()
    except OperationalError as exc:
        raise ConfigError(f"无法连接数据库：{engine.url.render_as_string(hide_password=True)}（{exc.orig}）",
                          hint="检查数据库地址、服务是否启动以及账号权限；PostgreSQL 的空数据库需先建好。") from None
    if tables:
        raise ConfigError("目标数据库不是空的，恢复会覆盖现有数据，已拒绝。",
                          hint="新建一个空数据库（或移走现有的数据库文件）后，再用它的地址恢复。")
    if kind == "sqlite":
        engine.dispose()
        src = sqlite3.connect(source)
        dst = sqlite3.connect(_sqlite_path(engine))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    uri, env = _libpq(engine)
    _run_tool([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={uri}", str(source)],
              env, "pg_restore 恢复")


@dataclass
class CheckReport:
    current: str | None
    head: str
    counts: dict[str, int]
    orphan_dirs: list[Path] = field(default_factory=list)  # in the data folder, known to no run
    missing_dirs: list[tuple[int, str]] = field(default_factory=list)  # runs whose directory is gone

    @property
    def ok(self) -> bool:
        return self.current == self.head and not self.orphan_dirs and not self.missing_dirs


def check(engine: Engine, data_dir: Path) -> CheckReport:
    """Schema at head, row counts, run and upload directories that no run knows, runs whose directory is gone."""
    current, head = schema_revisions(engine)
    report = CheckReport(current=current, head=head, counts=row_counts(engine))
    if "runs" not in report.counts:
        return report
    with engine.connect() as conn:
        runs = conn.execute(select(Run.id, Run.path, Run.status)).all()
    ids = {r.id for r in runs}
    paths = {Path(r.path).resolve() for r in runs if r.path}
    for r in runs:
        if r.status in ("complete", "published") and r.path and not Path(r.path).is_dir():
            report.missing_dirs.append((r.id, r.path))
    for sub in ("runs", "uploads"):
        folder = Path(data_dir) / sub
        if not folder.is_dir():
            continue
        for d in sorted(p for p in folder.iterdir() if p.is_dir()):
            known = d.resolve() in paths
            if sub == "uploads" or d.name.startswith("run-"):
                num = d.name.removeprefix("run-")
                known = known or (num.isdigit() and int(num) in ids)
            if not known:
                report.orphan_dirs.append(d)
    return report
