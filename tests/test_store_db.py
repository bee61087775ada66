"""The schema comes only from the shipped Alembic migrations, and they match the models (store/db.py)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from web_fixtures import engine_fixture, pg_schema_fixture  # noqa: F401 - fixtures
from yidan.store.db import is_current, upgrade
from yidan.store.models import Base


def test_the_migrated_schema_matches_the_models_on_this_database(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrading_twice_is_harmless_and_leaves_every_table_in_place(engine: Engine) -> None:
    upgrade(engine)
    assert is_current(engine)
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
