"""Login protection: waits that grow per address, never a lock a stranger can use against the
owner; the same work and answer for unknown accounts; absurd names refused before any work;
names that look like formulas neutralised in the audit export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

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
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry, LoginThrottle, utcnow
from yidan.web import security
from yidan.web.login_guard import Throttle
from yidan.web.security import LoginError, LoginRefused, LoginThrottled, login


@pytest.fixture
def slow(env: Env) -> Env:
    """Waits that start at a minute, so that none ends while a busy machine runs the test."""
    env.app.state.settings.login_first_delay_seconds = 60
    return env


def _post(client: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(client, "/login")})


def test_each_failure_past_the_free_ones_doubles_the_wait_and_the_wait_ends(env: Env) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    throttle = Throttle(free=3, free_per_ip=20, max_delay=timedelta(minutes=15), window=timedelta(hours=1))
    t = utcnow()
    waits = []
    for _ in range(6):
        with session_scope(env.sessions()) as s, pytest.raises(LoginError) as err:
            login(s, username="clerk", password="wrong", ip="10.0.0.5", throttle=throttle, now=t)
        assert not isinstance(err.value, LoginThrottled)
        with session_scope(env.sessions()) as s:
            until = s.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.account == "clerk"))
        waits.append(round((until - t).total_seconds()) if until else 0)
        last, t = t, (until or t) + timedelta(milliseconds=1)  # try again once the wait is over
    assert waits == [0, 0, 1, 2, 4, 8]
    with session_scope(env.sessions()) as s, pytest.raises(LoginThrottled) as err:
        login(s, username="clerk", password=PASSWORD, ip="10.0.0.5", throttle=throttle, now=last)
    assert err.value.retry_after == 8 and "8 秒" in err.value.message  # even the right password waits
    with session_scope(env.sessions()) as s:
        assert login(s, username="clerk", password=PASSWORD, ip="10.0.0.5", throttle=throttle, now=t).username == "clerk"
    assert throttle.delay(10_000, 3) == timedelta(minutes=15)  # capped, never an overflow


def test_the_wait_answers_429_in_chinese_with_retry_after(slow: Env) -> None:
    env = slow
    make_user(env, "clerk", "county", COUNTY_A)
    client = TestClient(env.app, follow_redirects=False, client=("10.0.0.8", 1))
    for _ in range(3):
        assert _post(client, "clerk", "wrong").status_code == 401
    r = _post(client, "clerk", "wrong")
    assert r.status_code == 429 and "登录失败次数过多，请 1 分钟后再试" in r.text and r.headers["retry-after"] == "60"


def test_one_address_trying_many_accounts_is_slowed_down_too(slow: Env) -> None:
    env = slow
    client = TestClient(env.app, follow_redirects=False, client=("10.0.0.9", 1))
    answers = [_post(client, f"guess{i}", "wrong").status_code for i in range(21)]
    assert answers[:20] == [401] * 20
    assert _post(client, "never-tried", "wrong").status_code == 429  # the address waits, whatever the name
    elsewhere = TestClient(env.app, follow_redirects=False, client=("10.0.0.10", 1))
    assert _post(elsewhere, "never-tried", "wrong").status_code == 401


def test_an_administrator_lifts_the_wait_on_an_account_from_the_page(slow: Env) -> None:
    env = slow
    make_user(env, "chief", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    kiosk = TestClient(env.app, follow_redirects=False, client=("10.0.0.11", 1))
    for _ in range(5):
        _post(kiosk, "clerk", "wrong")
    assert _post(kiosk, "clerk", PASSWORD).status_code == 429
    boss = browser_login(env, "chief")
    assert "需等待至" in boss.get("/admin/users").text
    r = boss.post(f"/admin/users/{clerk.id}/unlock", data={"csrf_token": boss.csrf})
    assert r.status_code == 303 and "已解除该账号的登录等待" in boss.get(r.headers["location"]).text
    assert _post(kiosk, "clerk", PASSWORD).status_code == 303


def test_an_unknown_account_costs_the_same_password_check_and_gets_the_same_answer(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    calls: list[str] = []
    real = security._hasher

    class Counting:
        def verify(self, hashed: str, password: str) -> bool:
            calls.append(password)
            return bool(real.verify(hashed, password))

        def hash(self, password: str) -> str:
            return str(real.hash(password))

    monkeypatch.setattr(security, "_hasher", Counting())
    client = TestClient(env.app, follow_redirects=False)
    known, unknown = _post(client, "clerk", "wrong-1"), _post(client, "nobody", "wrong-2")
    assert calls == ["wrong-1", "wrong-2"]  # one argon2 verification each
    assert known.status_code == unknown.status_code == 401
    assert known.text.replace("clerk", "X") == unknown.text.replace("nobody", "X").replace(
        csrf_of(client, "/login"), csrf_of(client, "/login"))


def test_a_disabled_account_is_only_named_as_disabled_to_whoever_knows_its_password(env: Env) -> None:
    user = make_user(env, "clerk", "county", COUNTY_A)
    from yidan.store.crud import users

    with session_scope(env.sessions()) as s:
        users.set_disabled(s, user=s.merge(user), disabled=True)
    client = TestClient(env.app, follow_redirects=False)
    wrong = _post(client, "clerk", "wrong")
    assert wrong.status_code == 401 and "账号或密码错误" in wrong.text and "停用" not in wrong.text
    right = _post(client, "clerk", PASSWORD)
    assert right.status_code == 401 and "已停用" in right.text


@pytest.mark.parametrize("name", ["x" * 1_000_000, "a\x00b", "x" * 65])
def test_an_absurd_user_name_is_refused_before_any_work_and_never_stored(env: Env, name: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hashing(*_: object) -> bool:
        raise AssertionError("argon2 must not run for a refused name")

    monkeypatch.setattr(security, "verify_password", no_hashing)
    client = TestClient(env.app, follow_redirects=False)
    r = _post(client, name, "whatever")
    assert r.status_code in (400, 422) and len(r.content) < 20_000
    assert "账号名" in r.text or "提交的内容" in r.text
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert s.scalar(select(func.count()).select_from(LoginThrottle)) == 0
    with session_scope(env.sessions()) as s, pytest.raises(LoginRefused):
        login(s, username=name, password="x", ip="1", throttle=Throttle())


def test_user_names_that_look_like_formulas_are_neutralised_in_the_audit_export(env: Env) -> None:
    make_user(env, "chief", "province_admin", "43")
    stranger = TestClient(env.app, follow_redirects=False, client=("10.0.0.12", 1))
    evil = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"]
    for name in evil:
        _post(stranger, name, "wrong")
    boss = browser_login(env, "chief")
    export = boss.get("/audit.csv", params={"action": "login_failed"})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    names = {r[1] for r in rows[1:]}
    assert names == {"'" + n for n in evil}
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows[1:] for cell in r)


def test_strangers_on_many_machines_slow_down_new_browsers_but_never_the_owners_own_browser(slow: Env) -> None:
    env = slow
    chief = make_user(env, "chief", "province_admin", "43")
    make_user(env, "mole", "county", COUNTY_A)
    desk = TestClient(env.app, follow_redirects=False, client=("10.1.1.1", 1))
    assert _post(desk, "chief", PASSWORD).status_code == 303 and "yidan_device" in desk.cookies
    machines = [TestClient(env.app, follow_redirects=False, client=(f"10.66.0.{i}", 1)) for i in range(11)]
    answers = [_post(m, "chief", f"guess-{i}").status_code for i, m in enumerate(machines)]
    assert answers == [401] * 10 + [429]  # one wrong password from each machine: the tenth starts the waits
    laptop = TestClient(env.app, follow_redirects=False, client=("10.2.2.2", 1))
    r = _post(laptop, "chief", PASSWORD)
    assert r.status_code == 429 and "以前登录过的电脑上登录不受影响" in r.text
    mole = TestClient(env.app, follow_redirects=False, client=("10.3.3.3", 1))
    assert _post(mole, "mole", PASSWORD).status_code == 303  # his own account's device cookie ...
    assert _post(mole, "chief", "guess").status_code == 429  # ... does not make him trusted for chief's
    forged = TestClient(env.app, follow_redirects=False, client=("10.4.4.4", 1),
                        cookies={"yidan_device": f"{chief.id}.{'A' * 43}.{'0' * 64}"})
    assert _post(forged, "chief", PASSWORD).status_code == 429
    assert _post(desk, "chief", PASSWORD).status_code == 303  # the owner's own browser signs in as usual


def test_simultaneous_failures_on_one_account_are_all_counted_without_a_server_error(env: Env) -> None:
    from concurrent.futures import ThreadPoolExecutor

    make_user(env, "clerk", "county", COUNTY_A)
    clients = [TestClient(env.app, follow_redirects=False, client=("10.0.0.77", 1)) for _ in range(8)]
    tokens = [csrf_of(c, "/login") for c in clients]

    def attempt(i: int) -> int:
        return clients[i].post("/login", data={"username": "clerk", "password": f"wrong-{i}",
                                               "csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert set(answers) <= {401, 429} and answers.count(401) >= 3
    with session_scope(env.sessions()) as s:
        counted = s.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == "acct:10.0.0.77:clerk"))
    assert counted == answers.count(401)  # every failure that was judged was counted, none lost to a race
