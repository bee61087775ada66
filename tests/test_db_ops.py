"""`yidan db backup|restore|check` on SQLite and PostgreSQL (issue 22)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

import needs
from conftest import run_yidan
from web_fixtures import COUNTY_A, Env, fixture_findings, publish_fixture_run
from yidan.store.crud import cases as case_crud
from yidan.store.crud import users
from yidan.store.db import create_schema, drop_schema, make_engine, session_factory, session_scope, upgrade
from yidan.store.errors import ActionError
from yidan.store.models import Case, CaseEvent, User


class Db:
    """A database reachable by URL (as an operator's commands reach it), and a second, empty one to restore into."""

    def __init__(self, url: str, empty_url: str) -> None:
        self.url, self.empty_url = url, empty_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        yield Db(f"sqlite:///{tmp_path / 'yidan.db'}", f"sqlite:///{tmp_path / 'restored.db'}")
        return
    needs.require(needs.postgres_problem())
    tag = uuid.uuid4().hex[:8]
    schema, database = f"yidan_ops_{tag}", f"yidan_restore_{tag}"
    admin = make_engine(needs.PG_URL)
    create_schema(admin, schema)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{database}"'))
    base = needs.PG_URL.rsplit("/", 1)[0]
    yield Db(f"{needs.PG_URL}?options=-csearch_path%3D{schema}", f"{base}/{database}?options=-csearch_path%3D{schema}")
    drop_schema(admin, schema)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


def _history(engine: Engine) -> list[tuple]:
    """Every case with its whole history, in a stable order."""
    with session_scope(session_factory(engine)) as s:
        cases = s.scalars(select(Case).order_by(Case.finding_key)).all()
        return [(c.finding_key, c.state, c.version,
                 [(e.at, e.actor, e.kind, e.summary, e.run_pk) for e in s.scalars(
                     select(CaseEvent).where(CaseEvent.case_id == c.id).order_by(CaseEvent.id))])
                for c in cases]


def _counts(monkeypatch, capsys, url: str) -> str:  # type: ignore[no-untyped-def]
    code, out = run_yidan(monkeypatch, capsys, ["db", "check", "--database-url", url])
    return out.split("结构版本")[1].split("检查")[0]


def test_backup_then_restore_into_an_empty_database_keeps_every_row_and_case_history(
        db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("YIDAN_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(db.url)
    upgrade(engine)
    env = Env(app=None, engine=engine, data_dir=tmp_path / "data")
    with session_scope(env.sessions()) as s:
        admin = users.create_user(s, username="admin", password_hash="x", role="province_admin", region="43",
                                  display_name="省管理员")
        clerk = users.create_user(s, username="clerk", password_hash="x", role="county", region=COUNTY_A,
                                  display_name="县")
    publish_fixture_run(env, admin, tmp_path / "data" / "runs" / "r1", run_id="r1")
    publish_fixture_run(env, admin, tmp_path / "data" / "runs" / "r2", run_id="r2", findings=fixture_findings(COUNTY_A))
    with session_scope(env.sessions()) as s:  # a county's own work on a case, in its history
        user = s.get(User, clerk.id)
        for case in s.scalars(select(Case).where(Case.county == COUNTY_A).order_by(Case.id)):
            try:
                case_crud.log_visit(s, case=case, user=user, expected_version=case.version, visited_on=date(2021, 3, 1),
                                    note="入户走访，家长表示下周送孩子返校")  # type: ignore[arg-type]
                break
            except ActionError:
                continue
    before = _history(engine)
    kinds = [[kind for _, _, kind, _, _ in events] for *_, events in before]
    assert any("visit" in k for k in kinds) and any(len(k) >= 2 for k in kinds), kinds[:5]
    counts = _counts(monkeypatch, capsys, db.url)
    assert "cases：" in counts and "case_events：" in counts

    backup = tmp_path / "backup" / "yidan-20261204.bak"
    code, out = run_yidan(monkeypatch, capsys, ["db", "backup", "--out", str(backup), "--database-url", db.url])
    assert code == 0 and "已备份到" in out and backup.is_file()
    code, out = run_yidan(monkeypatch, capsys, ["db", "backup", "--out", str(backup), "--database-url", db.url])
    assert code == 2 and "备份文件已存在" in out  # an existing backup is never overwritten

    code, out = run_yidan(monkeypatch, capsys, ["db", "restore", str(backup), "--database-url", db.empty_url])
    assert code == 0 and "已恢复" in out, out
    restored = make_engine(db.empty_url)
    try:
        assert _counts(monkeypatch, capsys, db.empty_url) == counts
        assert _history(restored) == before
        code, out = run_yidan(monkeypatch, capsys, ["db", "restore", str(backup), "--database-url", db.empty_url])
        assert code == 2 and "目标数据库不是空的" in out  # never over data
    finally:
        restored.dispose()
        engine.dispose()


def test_check_names_a_schema_behind_and_directories_no_run_knows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    monkeypatch.setenv("YIDAN_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(url)
    upgrade(engine, "0003")
    (tmp_path / "data" / "runs" / "run-00042").mkdir(parents=True)
    code, out = run_yidan(monkeypatch, capsys, ["db", "check", "--database-url", url])
    assert code == 1 and "需要升级：运行 yidan db upgrade" in out
    assert "无主目录" in out and "run-00042" in out
    upgrade(engine)
    (tmp_path / "data" / "runs" / "run-00042").rmdir()
    code, out = run_yidan(monkeypatch, capsys, ["db", "check", "--database-url", url])
    assert code == 0 and "检查通过" in out


def test_a_backup_of_one_engine_is_refused_by_the_other_and_junk_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"PGDMP\x01\x0e\x00 pretend")
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out = run_yidan(monkeypatch, capsys, ["db", "restore", str(junk), "--database-url", url])
    assert code == 2 and "备份来自 postgresql 数据库，不能恢复到 sqlite 数据库" in out
    junk.write_bytes(b"hello")
    code, out = run_yidan(monkeypatch, capsys, ["db", "restore", str(junk), "--database-url", url])
    assert code == 2 and "不是 yidan db backup 写出的备份文件" in out


def test_without_pg_dump_the_backup_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no client tools on this PATH
    code, out = run_yidan(monkeypatch, capsys, ["db", "backup", "--out", str(tmp_path / "x.bak"), "--database-url",
                                                "postgresql+psycopg://u@127.0.0.1:1/none"])
    assert code == 2 and "没有找到 PostgreSQL 客户端程序 pg_dump" in out and "postgresql-client" in out, out
