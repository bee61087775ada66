"""`yidan user add|passwd|disable` and `yidan db upgrade`, driven in-process as a user types them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from typer.testing import CliRunner

import yidan.cli  # noqa: F401 - registers the commands
from yidan.cli.app import app
from yidan.errors import ConfigError
from yidan.store.db import make_engine, session_factory, session_scope
from yidan.store.models import User
from yidan.web.security import verify_password

runner = CliRunner()


def _user(url: str, name: str) -> User:
    with session_scope(session_factory(make_engine(url))) as s:
        user = s.scalar(select(User).where(User.username == name))
        assert user is not None
        return user


def test_db_upgrade_creates_the_schema_from_the_shipped_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"users", "cases", "case_events", "audit_log", "alembic_version"} <= tables


def test_the_first_administrator_is_created_then_its_password_reset_then_disabled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    add = runner.invoke(app, ["user", "add", "chief", "--role", "province_admin", "--region", "43",
                              "--password", "Long-Enough-1", "--database-url", url])
    assert add.exit_code == 0 and "已创建账号 chief" in add.output
    assert verify_password(_user(url, "chief").password_hash, "Long-Enough-1")
    pw = runner.invoke(app, ["user", "passwd", "chief", "--password", "Another-Long-2", "--database-url", url])
    assert pw.exit_code == 0 and verify_password(_user(url, "chief").password_hash, "Another-Long-2")
    off = runner.invoke(app, ["user", "disable", "chief", "--database-url", url])
    assert off.exit_code == 0 and _user(url, "chief").disabled


def test_a_weak_password_a_bad_region_and_a_duplicate_account_are_refused_in_chinese(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    weak = runner.invoke(app, ["user", "add", "a", "--role", "county", "--region", "430124", "--password", "admin",
                               "--database-url", url])
    assert "密码太弱" in str(weak.exception)
    region = runner.invoke(app, ["user", "add", "b", "--role", "county", "--region", "4301", "--password",
                                 "Long-Enough-1", "--database-url", url])
    assert isinstance(region.exception, ConfigError) and "6 位" in region.exception.message
    runner.invoke(app, ["user", "add", "c", "--role", "city", "--region", "4301", "--password", "Long-Enough-1",
                        "--database-url", url])
    dup = runner.invoke(app, ["user", "add", "c", "--role", "city", "--region", "4301", "--password", "Long-Enough-1",
                              "--database-url", url])
    assert isinstance(dup.exception, ConfigError) and "账号已存在" in dup.exception.message


def test_an_unknown_account_for_passwd_says_how_to_create_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    result = runner.invoke(app, ["user", "passwd", "ghost", "--password", "Long-Enough-1", "--database-url", url])
    assert "账号不存在" in str(result.exception) and "yidan user add" in str(result.exception)


@pytest.mark.parametrize("url", ["mysql://nowhere/db"])
def test_an_unusable_database_url_is_a_chinese_error(url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert isinstance(result.exception, ConfigError) and "数据库地址无效" in result.exception.message
