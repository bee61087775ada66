"""Accounts and safety: login, lockout, CSRF, masking and the audit log, API tokens, production refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

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
    publish_fixture_run,
)
from yidan.errors import ConfigError
from yidan.settings import AppSettings
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry, Case, User
from yidan.web.app import create_app


def _login(client: TestClient, username: str, password: str) -> int:
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return r.status_code


def test_a_user_signs_in_with_the_right_password_and_gets_a_secure_http_only_cookie(env: Env) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    client = TestClient(env.app, follow_redirects=False)
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/").headers["location"] == f"/dashboard/{COUNTY_A}"


def test_wrong_passwords_slow_down_that_address_with_429_but_never_lock_the_owner_out(env: Env) -> None:
    env.app.state.settings.login_first_delay_seconds = 60  # no wait ends while a busy machine runs the test
    make_user(env, "chief", "province_admin", "43")
    stranger = TestClient(env.app, follow_redirects=False, client=("10.9.9.9", 5000))
    answers = [_login(stranger, "chief", "wrong-password") for _ in range(5)]
    assert answers[:3] == [401, 401, 401] and 429 in answers[3:]
    r = stranger.post("/login", data={"username": "chief", "password": PASSWORD,
                                      "csrf_token": csrf_of(stranger, "/login")})
    assert r.status_code == 429 and "登录失败次数过多" in r.text and int(r.headers["retry-after"]) >= 1
    owner = TestClient(env.app, follow_redirects=False, client=("10.1.1.1", 5000))
    assert _login(owner, "chief", PASSWORD) == 303


def test_an_unknown_account_gets_the_same_message_as_a_wrong_password(env: Env) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    client = TestClient(env.app, follow_redirects=False)
    a = client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": csrf_of(client, "/login")})
    b = client.post("/login", data={"username": "clerk", "password": "x", "csrf_token": csrf_of(client, "/login")})
    assert a.status_code == b.status_code == 401
    assert "账号或密码错误" in a.text and "账号或密码错误" in b.text


def test_a_form_post_without_the_csrf_token_is_refused(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    client = browser_login(env, "clerk")
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K02"))
    r = client.post(f"/cases/{case.id}/visit", data={"version": "1", "visited_on": "2021-04-01", "note": "走访"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(f"/cases/{case.id}/visit", data={"version": "1", "visited_on": "2021-04-01", "note": "走访",
                                                     "csrf_token": "forged"})
    assert r.status_code == 403


def test_a_disabled_account_loses_its_session_at_once(env: Env) -> None:
    user = make_user(env, "clerk", "county", COUNTY_A)
    client = browser_login(env, "clerk")
    assert client.get("/cases").status_code == 200
    with session_scope(env.sessions()) as s:
        s.get(User, user.id).disabled = True  # type: ignore[union-attr]
    assert client.get("/cases").headers["location"].startswith("/login")


def test_the_list_masks_ids_and_the_case_page_shows_the_full_id_only_to_roles_that_need_it(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    make_user(env, "analyst", "province_analyst", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K02"))
    full, masked = case.person_id, case.person_id[:6] + "********" + case.person_id[-4:]
    clerk = browser_login(env, "clerk")
    listing = clerk.get("/cases").text
    assert masked in listing and full not in listing
    page = clerk.get(f"/cases/{case.id}").text
    phone = (case.person or {}).get("phone")
    assert phone and full not in page and masked in page and phone not in page  # full data only on request
    page = clerk.post(f"/cases/{case.id}/full", data={"csrf_token": clerk.csrf}).text
    assert full in page and phone in page  # the household's phone in full for the county (audited below)
    analyst = browser_login(env, "analyst")
    assert analyst.post(f"/cases/{case.id}/full", data={"csrf_token": analyst.csrf}).status_code == 403
    page = analyst.get(f"/cases/{case.id}").text
    assert full not in page and masked in page
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page
    with session_scope(env.sessions()) as s:
        views = s.scalars(select(AuditEntry).where(AuditEntry.action == "view_person")).all()
        assert [(v.username, v.target) for v in views] == [("clerk", full)]


def test_the_province_searches_and_exports_the_audit_log_and_the_export_is_logged(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    clerk = browser_login(env, "clerk")
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K01"))
    clerk.post(f"/cases/{case.id}/full", data={"csrf_token": clerk.csrf})
    boss = browser_login(env, "admin")
    page = boss.get("/audit", params={"username": "clerk", "action": "view_person"}).text
    # the log's row (the action menu above it names every action, so its label alone proves nothing)
    assert f'<td>clerk</td><td>{COUNTY_A}</td><td>查看完整个人信息</td><td class="mono">{case.person_id}</td>' in page
    csv = boss.get("/audit.csv", params={"username": "clerk"})
    assert csv.status_code == 200 and case.person_id in csv.text
    logged = boss.get("/audit", params={"action": "export_audit"}).text
    assert "<td>admin</td>" in logged and "audit_log" in logged


def test_an_api_token_reads_the_users_own_region_and_a_revoked_one_does_not(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    client = browser_login(env, "clerk")
    page = client.post("/account/tokens", data={"name": "市平台", "csrf_token": client.csrf}).text
    token = page.split('id="new-token">')[1].split("<")[0]
    api = TestClient(env.app)
    listing = api.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).json()
    assert listing["total"] == 8 and {c["county"] for c in listing["items"]} == {COUNTY_A}
    assert all("*" in c["person_id"] for c in listing["items"])
    with session_scope(env.sessions()) as s:
        from yidan.store.models import ApiToken

        token_id = s.scalar(select(ApiToken.id))
    client.post("/account/tokens/revoke", data={"token_id": token_id, "csrf_token": client.csrf})
    assert api.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/cases").status_code == 401  # the API never takes the session cookie


def test_production_mode_refuses_a_weak_admin_password(env: Env) -> None:
    make_user(env, "admin", "province_admin", "43", password="admin")
    settings = AppSettings(production=True, data_dir=env.data_dir)
    with pytest.raises(ConfigError, match="弱密码"):
        create_app(settings, engine=env.engine, migrate=False)
