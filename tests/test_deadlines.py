"""Due dates per round and finding code (store/deadlines.py) as the county sees them: list, case page, API."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.settings import SupervisionSettings
from yidan.store.db import session_scope
from yidan.store.deadlines import default_dates
from yidan.store.models import AuditEntry, Case

BEIJING = ZoneInfo("Asia/Shanghai")


def test_default_dates_count_calendar_days_from_publishing_and_z01_runs_to_the_end_of_the_term() -> None:
    published = date(2021, 3, 1)
    s = SupervisionSettings()
    assert default_dates(code="K01", published=published, term="2021春", settings=s) == (date(2021, 3, 16), date(2021, 3, 31))
    assert default_dates(code="K02", published=published, term="2021春", settings=s) == (date(2021, 3, 16), date(2021, 3, 31))
    # 补发 by the end of the spring term (31 July); an autumn term ends on 31 January of the next year
    assert default_dates(code="Z01", published=published, term="2021春", settings=s)[1] == date(2021, 7, 31)
    assert default_dates(code="Z01", published=date(2020, 10, 8), term="2020秋", settings=s)[1] == date(2021, 1, 31)
    mine = SupervisionSettings(verify_days=7, close_days={"K02": 45}, default_close_days=20)
    assert default_dates(code="K02", published=date(2021, 2, 25), term="2021春", settings=mine) == (date(2021, 3, 4), date(2021, 4, 11))
    assert default_dates(code="K03", published=date(2021, 2, 25), term="2021春", settings=mine)[1] == date(2021, 3, 17)


def _setup(env: Env, tmp_path: Path) -> dict[str, Case]:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    run_pk, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        cases = {c.code: c for c in s.scalars(select(Case).where(Case.county == COUNTY_A))}
    cases["_run"] = run_pk  # type: ignore[assignment]
    return cases


def _today() -> date:
    return datetime.now(BEIJING).date()


def _ids(page: str) -> set[int]:
    return {int(x) for x in re.findall(r'href="/cases/(\d+)"', page)}


def test_a_round_published_without_dates_gets_the_defaults_counted_from_the_publishing_day(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    clerk = browser_login(env, "clerk")
    page = clerk.get(f"/cases/{cases['K01'].id}").text
    verify = (_today() + timedelta(days=15)).isoformat()
    assert f"核实期限：{verify}（还剩 15 天）" in page


def test_the_province_sets_a_rounds_dates_and_the_county_filters_and_sorts_overdue_cases(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    run_pk = cases["_run"]
    today = _today()
    admin = browser_login(env, "admin")
    form = {"csrf_token": admin.csrf,
            "verify_K02": (today - timedelta(days=3)).isoformat(), "close_K02": (today + timedelta(days=20)).isoformat(),
            "verify_K01": (today + timedelta(days=5)).isoformat(), "close_K01": (today + timedelta(days=30)).isoformat()}
    assert admin.post(f"/runs/{run_pk}/deadlines", data=form).status_code == 303
    with session_scope(env.sessions()) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "set_deadlines")).one()
        assert "K02 核实" in entry.detail and entry.username == "admin"

    clerk = browser_login(env, "clerk")
    k01, k02 = cases["K01"].id, cases["K02"].id
    overdue = clerk.get("/cases", params={"due": "overdue"}).text
    assert _ids(overdue) == {k02} and "已超期 3 天" in overdue
    soon = clerk.get("/cases", params={"due": "soon"}).text
    assert _ids(soon) == {k01} and "还剩 5 天" in soon
    ordered = re.findall(r'href="/cases/(\d+)"', clerk.get("/cases", params={"sort": "due"}).text)
    assert [int(x) for x in ordered[:2]] == [k02, k01]
    assert f"核实期限：{(today - timedelta(days=3)).isoformat()}（已超期 3 天）" in clerk.get(f"/cases/{k02}").text

    # once verified the case owes its 办结, 20 days away: no longer overdue
    r = clerk.post(f"/cases/{k02}/verification", data={"csrf_token": clerk.csrf, "version": 1, "conclusion": "确系辍学",
                                                       "verified_on": today.isoformat()})
    assert r.status_code == 303
    assert _ids(clerk.get("/cases", params={"due": "overdue"}).text) == set()
    assert "办结期限" in clerk.get(f"/cases/{k02}").text and "还剩 20 天" in clerk.get(f"/cases/{k02}").text

    page = clerk.post("/account/tokens", data={"csrf_token": clerk.csrf}).text
    token = page.split('id="new-token">')[1].split("<")[0]
    api = TestClient(env.app, headers={"Authorization": f"Bearer {token}"})
    items = {i["id"]: i for i in api.get("/api/cases", params={"sort": "due"}).json()["items"]}
    assert items[k01]["due_kind"] == "verify" and items[k01]["days_left"] == 5 and items[k01]["overdue"] is False
    assert items[k01]["due_date"] == (today + timedelta(days=5)).isoformat()
    assert items[k02]["due_kind"] == "close" and items[k02]["days_left"] == 20
    assert api.get(f"/api/cases/{k02}").json()["due_date"] == (today + timedelta(days=20)).isoformat()
    bad = api.get("/api/cases", params={"due": "late"})
    assert bad.status_code == 400 and "期限筛选无效" in bad.json()["detail"]


def test_a_county_cannot_set_dates_and_a_closing_date_before_the_verification_date_is_refused(env: Env, tmp_path: Path) -> None:
    run_pk = _setup(env, tmp_path)["_run"]
    clerk = browser_login(env, "clerk")
    assert clerk.post(f"/runs/{run_pk}/deadlines", data={"csrf_token": clerk.csrf,
                                                         "verify_K02": "2021-05-01", "close_K02": "2021-06-01"}).status_code == 403
    admin = browser_login(env, "admin")
    r = admin.post(f"/runs/{run_pk}/deadlines", data={"csrf_token": admin.csrf,
                                                      "verify_K02": "2021-05-01", "close_K02": "2021-04-01"})
    assert r.status_code == 400 and "K02 的办结期限（2021-04-01）早于核实期限（2021-05-01）" in r.text
    r = admin.post(f"/runs/{run_pk}/deadlines", data={"csrf_token": admin.csrf, "verify_K02": "五月", "close_K02": ""})
    assert r.status_code == 400 and "期限日期写法不对" in r.text
    page = admin.get(f"/runs/{run_pk}/deadlines").text
    assert 'name="verify_K02"' in page and "2021-04-01" not in page


def test_the_county_workbook_carries_each_cases_due_date_and_follows_a_change(env: Env, tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    cases = _setup(env, tmp_path)
    clerk = browser_login(env, "clerk")

    def due_of(person_id: str) -> str:
        got = clerk.get("/workbook/download")
        assert got.status_code == 200
        path = tmp_path / "book.xlsx"
        path.write_bytes(got.content)
        wb = CalamineWorkbook.from_path(str(path))
        for name in ("控辍保学", "学生资助"):
            grid = wb.get_sheet_by_name(name).to_python()
            col, pid = grid[0].index("办理期限"), grid[0].index("身份证号")
            for row in grid[1:]:
                if str(row[pid])[-4:] == person_id[-4:] and str(row[pid])[:6] == person_id[:6]:
                    return str(row[col])
        raise AssertionError(person_id)

    assert due_of(cases["K02"].person_id) == f"核实 {(_today() + timedelta(days=15)).isoformat()}"
    admin = browser_login(env, "admin")
    assert admin.post(f"/runs/{cases['_run']}/deadlines", data={"csrf_token": admin.csrf, "verify_K02": "2021-05-06",
                                                                "close_K02": "2021-06-30"}).status_code == 303
    assert due_of(cases["K02"].person_id) == "核实 2021-05-06"
    assert due_of(cases["Z01"].person_id) == f"核实 {(_today() + timedelta(days=15)).isoformat()}"


def test_the_county_home_page_reminds_what_falls_due_and_what_was_returned_and_the_city_sees_overdue_counties(
        env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    make_user(env, "city", "city", "4301")
    today = _today()
    admin = browser_login(env, "admin")
    assert admin.post(f"/runs/{cases['_run']}/deadlines", data={
        "csrf_token": admin.csrf, "verify_K02": (today - timedelta(days=3)).isoformat(),
        "close_K02": (today + timedelta(days=20)).isoformat(), "verify_K01": (today + timedelta(days=2)).isoformat(),
        "close_K01": (today + timedelta(days=30)).isoformat()}).status_code == 303
    clerk, city = browser_login(env, "clerk"), browser_login(env, "city")
    home = clerk.get(f"/dashboard/{COUNTY_A}").text
    # K02 overdue and K01 due in two days, in each of the city's two counties' lists: the clerk sees his own
    assert "已超期 <strong>1</strong> 件" in home and "7 天内到期 <strong>1</strong> 件" in home
    assert "没有被退回的销号申请" in home

    k01 = cases["K01"].id
    assert clerk.post(f"/cases/{k01}/verification", data={"csrf_token": clerk.csrf, "version": 1, "conclusion": "因病缓学",
                                                          "verified_on": today.isoformat()}).status_code == 303
    assert clerk.post(f"/cases/{k01}/closure-request", data={"csrf_token": clerk.csrf, "version": 2}).status_code == 303
    assert city.post(f"/cases/{k01}/closure-confirm", data={"csrf_token": city.csrf, "version": 3, "approve": "false",
                                                            "note": "缺病历"}).status_code == 303
    home = clerk.get(f"/dashboard/{COUNTY_A}").text
    returned = home.split('id="returned-cases"')[1].split("</ul>")[0]
    assert f'href="/cases/{k01}"' in returned and "7 天内到期 <strong>0</strong> 件" in home

    city_home = city.get("/dashboard/4301").text
    table = city_home.split('id="overdue-counties"')[1].split("</table>")[0]
    assert "宁乡" in table and "浏阳" in table and table.count('class="num">1<') == 2
