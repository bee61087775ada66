"""送教上门 visits (store/home_teaching.py, routes/pages_home_teaching.py): HOME_TEACHING children of the
latest run, visits recorded per term, children falling behind listed."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_A2,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.store.db import session_scope
from yidan.store.home_teaching import expected_by
from yidan.store.models import HomeVisit


def test_visits_expected_so_far_spread_evenly_over_the_term() -> None:
    # 2021春 runs from 1 February to 31 July (181 days)
    assert expected_by("2021春", date(2021, 1, 20), 8) == 0
    assert expected_by("2021春", date(2021, 2, 1), 8) == 1  # the first day: one visit is due
    assert expected_by("2021春", date(2021, 4, 30), 8) == 4  # 89 of 181 days: 3.9 → 4
    assert expected_by("2021春", date(2021, 9, 1), 8) == 8


def _home_taught(county: str, start: int) -> dict:
    (child,) = fixture_findings(county, codes=(("K08", "quality", None, None, None),), start=start)
    child["enrollment"] = [{**child["enrollment"][0], "name": child["name"], "attendance_mode": "送教上门"}]
    return child


def test_the_county_lists_its_home_taught_children_records_visits_and_sees_who_falls_behind(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    mine, other = _home_taught(COUNTY_A, 40), _home_taught(COUNTY_A2, 41)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1",
                        findings=[*fixture_findings(COUNTY_A), mine, other])
    clerk = browser_login(env, "clerk")
    page = clerk.get("/home-teaching").text
    rows = page.split('id="home-teaching"')[1]
    assert mine["name"] in rows and other["person_id"][-4:] + "</td>" not in rows and mine["person_id"] not in page
    assert 'id="behind-count">1<' in page  # the 2021春 term is over: 8 visits expected, none recorded
    token = re.search(r'name="child" value="([^"]+)"', rows).group(1)
    form = {"csrf_token": clerk.csrf, "child": token, "teacher": "王老师", "content": "语文、康复训练", "minutes": 90}
    late = clerk.post("/home-teaching/visits", data={**form, "visited_on": "2021-09-10"})
    assert late.status_code == 400 and "不在本学期内" in late.text
    for day in range(1, 9):
        assert clerk.post("/home-teaching/visits", data={**form, "visited_on": f"2021-03-{day:02d}"}).status_code == 303
    page = clerk.get("/home-teaching").text
    assert 'id="behind-count">0<' in page and "没有送教上门的儿童" in clerk.get("/home-teaching?behind=1").text
    with session_scope(env.sessions()) as s:
        visits = s.scalars(select(HomeVisit)).all()
        assert len(visits) == 8 and {v.person_id for v in visits} == {mine["person_id"]}
    assert clerk.post("/home-teaching/visits", data={**form, "child": "P000000000000",
                                                     "visited_on": "2021-03-09"}).status_code == 404
