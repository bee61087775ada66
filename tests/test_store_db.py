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


def test_an_upgrade_ranks_the_cases_published_before_so_the_list_keeps_the_priority_children_first(
        engine: Engine) -> None:
    import sqlalchemy as sa
    from alembic import command

    from yidan.store.crud import cases as case_crud
    from yidan.store.crud import runs as run_crud
    from yidan.store.db import alembic_config, session_factory, session_scope
    from yidan.store.models import utcnow

    cfg = alembic_config()
    with engine.begin() as conn:  # the schema of the release before 0009
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with session_scope(session_factory(engine)) as s:
        run_pk = run_crud.create_run(s, path="/runs/r1", region="43", started_by=None, status="published").id
    old_cases = sa.table("cases", *(sa.column(c) for c in (
        "finding_key", "code", "label", "person_id", "term", "county", "township", "state", "opened_run_pk",
        "last_run_pk", "version", "created_at", "updated_at")), *(sa.column(c, sa.JSON) for c in ("person", "link", "team")))
    now = utcnow()
    statuses = {"k-a": "已脱贫", "k-b": None, "k-c": "返贫", "k-d": "未脱贫"}  # in the list's old fallback order
    with engine.begin() as conn:
        conn.execute(old_cases.insert(), [
            {"finding_key": key, "code": "K02", "label": "辍学", "person_id": f"P{n}", "term": "2021春",
             "county": "430124", "township": f"43012410{n}", "state": "open",
             "person": {"poverty_status": st} if st else {}, "link": {}, "team": [], "opened_run_pk": run_pk,
             "last_run_pk": run_pk, "version": 1, "created_at": now, "updated_at": now} for n, (key, st) in enumerate(statuses.items())])
    upgrade(engine)
    with session_scope(session_factory(engine)) as s:
        rows, total = case_crud.list_cases(s, region="43", filters=case_crud.CaseFilter())
        assert total == 4
        assert [c.finding_key for c in rows] == ["k-d", "k-c", "k-a", "k-b"]  # 未脱贫, 返贫, 已脱贫, unknown
