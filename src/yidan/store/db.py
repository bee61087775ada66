"""Engine and session factory for SQLite and PostgreSQL, and the programmatic migrations.

One function builds the engine for either database so the rest of the code never
branches on the dialect. A `schema` may be given for PostgreSQL (the tests run in a
fresh schema per session); it becomes the connection's search_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from yidan.errors import ConfigError

HEAD_TABLES = ("users", "runs", "cases", "case_events", "audit_log")


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """An engine for `url` (sqlite:///file.db or postgresql+psycopg://...)."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                if ":memory:" not in url:
                    cur.execute("PRAGMA journal_mode=WAL")
                cur.close()

            return engine
        options = {"options": f"-csearch_path={schema}"} if schema else {}
        return create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True, connect_args=options,
                             hide_parameters=True)  # errors and logs never carry the values of a request
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(
            f"数据库地址无效：{url}（{exc}）",
            hint="使用 sqlite:///yidan.db 或 postgresql+psycopg://用户@主机:端口/库名。",
        ) from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (for CLI and workers)."""
    session = factory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config() -> Config:
    ini = resources.files("yidan.store") / "alembic.ini"
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(Path(str(ini)).parent / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the migrations shipped in the package)."""
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise ConfigError(
            f"无法连接或升级数据库：{engine.url.render_as_string(hide_password=True)}（{exc.orig}）",
            hint="检查数据库地址、服务是否启动以及账号权限。",
        ) from None


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """The database's Alembic revision (None: never migrated) and the code's head revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with engine.connect() as conn:
            opts = {"version_table_schema": conn.dialect.default_schema_name} if conn.dialect.name == "postgresql" else {}
            current = MigrationContext.configure(conn, opts=opts).get_current_revision()
    except OperationalError as exc:
        raise ConfigError(f"无法连接数据库：{engine.url.render_as_string(hide_password=True)}（{exc.orig}）",
                          hint="检查数据库地址、服务是否启动以及账号权限。") from None
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, str(head)


def check_at_head(engine: Engine) -> None:
    """Refuse to go on with a schema behind (or ahead of) the code, naming the command to run."""
    current, head = schema_revisions(engine)
    if current != head:
        raise ConfigError(
            f"数据库结构版本（{current or '未初始化'}）与程序要求的版本（{head}）不一致，拒绝启动。",
            hint="先备份（yidan db backup --out 文件），再运行 yidan db upgrade 升级数据库结构；"
                 "若数据库比程序新，请安装与之相符的新版程序。",
        )


def prepare(engine: Engine) -> None:
    """At start: create the schema in an empty database (first start); otherwise it must be at head."""
    current, _head = schema_revisions(engine)
    if current is None and not inspect(engine).get_table_names():
        upgrade(engine)
        return
    check_at_head(engine)


def is_current(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    return all(t in names for t in HEAD_TABLES)


def create_schema(engine: Engine, schema: str) -> None:
    """Create a PostgreSQL schema (tests use one fresh schema per session)."""
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def drop_schema(engine: Engine, schema: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
