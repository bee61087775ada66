"""Server-side sessions: logout, password change and disabling end them; an administrator
ends them from a page or the CLI; idle and absolute expiry; the cookie carries only a
random token; the instance's secret is random and kept in its database."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select, update
from typer.testing import CliRunner

import yidan.cli  # noqa: F401 - registers the commands
from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    PASSWORD,
    Env,
    browser_login,
    csrf_of,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
)
from yidan.cli.app import app as cli
from yidan.settings import AppSettings
from yidan.store.crud import users
from yidan.store.db import make_engine, session_scope, upgrade
from yidan.store.instance import instance_secret
from yidan.store.models import AuditEntry, InstanceSecret, User, WebSession, utcnow
from yidan.web.app import create_app
from yidan.web.security import hash_password
from yidan.web.sessions import SESSION_COOKIE

SRC = Path(__file__).parents[1] / "src"


def _signed_out(client: TestClient, path: str = "/cases") -> bool:
    r = client.get(path)
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def test_an_old_cookie_after_logout_gets_the_login_page(env: Env) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    client = browser_login(env, "clerk")
    stolen = client.cookies[SESSION_COOKIE]
    assert client.get("/cases").status_code == 200
    r = client.post("/logout", data={"csrf_token": client.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = TestClient(env.app, follow_redirects=False, cookies={SESSION_COOKIE: stolen})
    assert _signed_out(replay, "/cases/1")
    page = replay.get("/cases", follow_redirects=True)
    assert "登录" in page.text and "问题清单" not in page.text
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(WebSession.revoked_reason)) == "logout"


def test_a_cookie_forged_with_the_old_constant_key_is_refused(env: Env, tmp_path: Path) -> None:
    user = make_user(env, "chief", "province_admin", "43")
    # the demo used to sign Starlette session cookies with "change-me"; forge one the old way
    app = create_app(AppSettings(secret_key="change-me", data_dir=tmp_path / "d"), engine=env.engine, migrate=False)
    payload = base64.b64encode(json.dumps({"uid": user.id, "pwh": user.password_hash[-16:]}).encode())
    forged = TimestampSigner("change-me").sign(payload).decode()
    client = TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: forged})
    assert _signed_out(client, "/audit")
    app.state.worker.shutdown()


def test_the_cookie_is_a_random_token_and_the_database_keeps_only_its_hash(env: Env) -> None:
    user = make_user(env, "clerk", "county", COUNTY_A)
    client = browser_login(env, "clerk")
    token = client.cookies[SESSION_COOKIE]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 256 random bits, nothing else
    assert user.password_hash[-16:] not in token and user.password_hash[-16:].encode() not in base64.urlsafe_b64decode(
        token + "=")
    with session_scope(env.sessions()) as s:
        ids = s.scalars(select(WebSession.id)).all()
    assert len(ids) == 1 and ids[0] != token and len(ids[0]) == 64
    second = browser_login(env, "clerk")
    assert second.cookies[SESSION_COOKIE] != token


def test_a_password_change_and_disabling_end_every_session_of_the_account(env: Env) -> None:
    user = make_user(env, "clerk", "county", COUNTY_A)
    office, home = browser_login(env, "clerk"), browser_login(env, "clerk")
    with session_scope(env.sessions()) as s:
        ended = users.set_password(s, user=s.get(User, user.id), password_hash=hash_password("Another-Pass-7"))
    assert ended == 2 and _signed_out(office) and _signed_out(home)
    again = browser_login(env, "clerk", "Another-Pass-7")
    with session_scope(env.sessions()) as s:
        users.set_disabled(s, user=s.get(User, user.id), disabled=True)
        reasons = sorted(r for r in s.scalars(select(WebSession.revoked_reason)))
    assert _signed_out(again) and reasons == ["disabled", "password", "password"]


def test_an_administrator_ends_a_users_sessions_and_cannot_touch_another_province(env: Env) -> None:
    make_user(env, "chief", "province_admin", "43")
    make_user(env, "other", "province_admin", "44")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    victim = browser_login(env, "clerk")
    boss = browser_login(env, "chief")
    page = boss.get("/admin/users").text
    assert f'action="/admin/users/{clerk.id}/end-sessions"' in page  # the clerk's row offers to end its sessions
    stranger = browser_login(env, "other")
    r = stranger.post(f"/admin/users/{clerk.id}/end-sessions", data={"csrf_token": stranger.csrf})
    assert r.status_code == 404 and victim.get("/cases").status_code == 200
    r = boss.post(f"/admin/users/{clerk.id}/end-sessions", data={"csrf_token": boss.csrf})
    assert r.status_code == 303
    assert "已结束该账号的全部会话" in boss.get(r.headers["location"]).text
    assert _signed_out(victim)
    with session_scope(env.sessions()) as s:
        logged = s.scalars(select(AuditEntry).where(AuditEntry.action == "end_sessions")).all()
        assert [(e.username, e.target, e.detail) for e in logged] == [("chief", "clerk", "1 个会话")]


def test_a_session_ends_after_the_idle_time_and_at_its_absolute_expiry(env: Env) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    idle = env.app.state.settings.session_idle_seconds
    client = browser_login(env, "clerk")
    with session_scope(env.sessions()) as s:
        s.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(seconds=idle - 120)))
    assert client.get("/cases").status_code == 200  # still inside the idle time, and now seen again
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(WebSession.last_seen_at)) > utcnow() - timedelta(seconds=60)
        s.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(seconds=idle + 1)))
    assert _signed_out(client)
    busy = browser_login(env, "clerk")
    with session_scope(env.sessions()) as s:
        s.execute(update(WebSession).where(WebSession.revoked_at.is_(None))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _signed_out(busy)


def test_each_instance_generates_its_own_random_secret_and_keeps_it(tmp_path: Path) -> None:
    first, second = make_engine(f"sqlite:///{tmp_path / 'a.db'}"), make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(first)
    upgrade(second)
    a, b = instance_secret(first), instance_secret(second)
    assert a != b and len(a) >= 64 and instance_secret(first) == a  # a restart reads the same one
    with first.connect() as c:
        assert c.scalar(select(InstanceSecret.value)) == a
    first.dispose()
    second.dispose()


def test_no_constant_secret_is_left_in_the_code() -> None:
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "change-me" in p.read_text(encoding="utf-8")
                 and p.name != "security.py"]  # security.py lists it only among refused weak passwords
    assert offenders == []
    assert "secret_key" not in AppSettings.model_fields


def test_the_cli_ends_a_users_sessions_and_lifts_its_login_waits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    engine = make_engine(url)
    upgrade(engine)
    app = create_app(AppSettings(database_url=url, data_dir=tmp_path / "d", login_first_delay_seconds=60),
                     engine=engine, migrate=False)
    with session_scope(app.state.sessions) as s:
        users.create_user(s, username="clerk", password_hash=hash_password(PASSWORD), role="county", region=COUNTY_A)
    env = Env(app=app, engine=engine, data_dir=tmp_path / "d")
    client = browser_login(env, "clerk")
    stranger = TestClient(app, follow_redirects=False, client=("10.7.7.7", 1))
    for _ in range(4):
        stranger.post("/login", data={"username": "clerk", "password": "nope-nope",
                                      "csrf_token": csrf_of(stranger, "/login")})
    runner = CliRunner()
    out = runner.invoke(cli, ["user", "logout", "clerk", "--database-url", url])
    assert out.exit_code == 0 and "已结束 clerk 的 1 个会话" in out.output and _signed_out(client)
    out = runner.invoke(cli, ["user", "unlock", "clerk", "--database-url", url])
    assert out.exit_code == 0 and "已解除 clerk 的登录等待（清除 2 项失败计数）" in out.output
    r = stranger.post("/login", data={"username": "clerk", "password": PASSWORD,
                                      "csrf_token": csrf_of(stranger, "/login")})
    assert r.status_code == 303
    app.state.worker.shutdown()
    engine.dispose()


def test_sessions_that_ended_long_ago_are_forgotten_at_the_next_start(env: Env, tmp_path: Path) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    old, recent = browser_login(env, "clerk"), browser_login(env, "clerk")
    old.post("/logout", data={"csrf_token": old.csrf})
    with session_scope(env.sessions()) as s:
        s.execute(update(WebSession).where(WebSession.revoked_at.is_not(None))
                  .values(revoked_at=utcnow() - timedelta(days=91)))
    restarted = create_app(AppSettings(data_dir=tmp_path / "d2"), engine=env.engine, migrate=False)
    with session_scope(env.sessions()) as s:
        left = s.scalars(select(WebSession)).all()
    assert len(left) == 1 and left[0].revoked_at is None and recent.get("/cases").status_code == 200
    restarted.state.worker.shutdown()
