"""Alembic environment: runs against the connection handed over by yidan.store.db.

`upgrade(engine)` passes its connection in `config.attributes["connection"]`, so
migrations run inside the application's engine (SQLite or PostgreSQL, and the test
schema on PostgreSQL) without a second URL to keep in step.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from yidan.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table_schema=connection.dialect.default_schema_name
        if connection.dialect.name == "postgresql"
        else None,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
