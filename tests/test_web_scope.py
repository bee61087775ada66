"""Every query is scoped to the user's region: a county sees exactly its county (not its city), a city its
counties, a province its province — in lists, the API, dashboards, link decisions and the audit log.

Three counties in two cities (two counties share city 4301), so a county that sees its whole city, or a
dashboard that counts another city's cases, cannot pass unnoticed.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_B,
    Env,
    api_client,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.store.db import session_scope
from yidan.store.models import Case

COUNTY_A2 = "430105"  # a second county of city 4301
COUNTIES = (COUNTY_A, COUNTY_A2, COUNTY_B)
USERS = {  # username -> (role, region)
    "county": ("county", COUNTY_A), "city": ("city", "4301"), "province": ("province_admin", "43"),
    "analyst": ("province_analyst", "43"), "inspector": ("inspector", "4301"), "elsewhere": ("province_admin", "44"),
}


def _world(env: Env, tmp_path: Path) -> dict[str, list[Case]]:
    admin = make_user(env, "root", "province_admin", "43")
    findings = [f for n, c in enumerate(COUNTIES) for f in fixture_findings(c, start=20 * n)]
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    for name, (role, region) in USERS.items():
        make_user(env, name, role, region)
    with session_scope(env.sessions()) as s:
        cases = list(s.scalars(select(Case)))
    return {region: [c for c in cases if c.county.startswith(region)] for _, region in USERS.values()}


def _listed_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/cases/(\d+)"', page)}


def test_each_role_lists_exactly_the_cases_of_its_region_in_pages_and_the_api(env: Env, tmp_path: Path) -> None:
    mine = _world(env, tmp_path)
    for name, (_role, region) in USERS.items():
        expected = {c.id for c in mine[region]}
        items = api_client(env, name).get("/api/cases").json()
        assert ({c["id"] for c in items["items"]}, items["total"]) == (expected, len(expected)), name
        page = browser_login(env, name).get("/cases").text
        assert _listed_ids(page) == expected and f'id="case-total">{len(expected)}<' in page, name


def test_a_county_cannot_open_a_case_of_the_neighbouring_county_in_its_city(env: Env, tmp_path: Path) -> None:
    mine = _world(env, tmp_path)
    neighbour = next(c for c in mine["4301"] if c.county == COUNTY_A2)
    assert browser_login(env, "county").get(f"/cases/{neighbour.id}").status_code == 404
    assert api_client(env, "county").get(f"/api/cases/{neighbour.id}").status_code == 404
    assert api_client(env, "city").get(f"/api/cases/{neighbour.id}").status_code == 200


def test_dashboards_count_open_cases_of_the_region_only(env: Env, tmp_path: Path) -> None:
    mine = _world(env, tmp_path)
    per_county = {c: sum(1 for x in mine["43"] if x.county == c) for c in COUNTIES}
    city = api_client(env, "city").get("/api/dashboard/4301").json()
    assert {r["code"]: r["open_cases"] for r in city["children"]} == {COUNTY_A: per_county[COUNTY_A],
                                                                      COUNTY_A2: per_county[COUNTY_A2]}
    assert sum(city["case_states"].values()) == len(mine["4301"])
    province = api_client(env, "province").get("/api/dashboard/43").json()
    assert {r["code"]: r["open_cases"] for r in province["children"]} == {"4301": len(mine["4301"]),
                                                                          "4305": per_county[COUNTY_B]}
    county = api_client(env, "county").get(f"/api/dashboard/{COUNTY_A}").json()
    assert sum(county["case_states"].values()) == len(mine[COUNTY_A])
    assert sum(r["open_cases"] for r in county["children"]) == len(mine[COUNTY_A])
    page = browser_login(env, "city").get("/dashboard/4301").text
    assert f'href="/dashboard/{COUNTY_A2}"' in page and f'href="/dashboard/{COUNTY_B}"' not in page


def _decide(env: Env, clerk: str, case: Case) -> None:
    client = browser_login(env, clerk)
    r = client.post(f"/cases/{case.id}/link-decision", data={"version": case.version, "decision": "确认同一人",
                                                             "csrf_token": client.csrf})
    assert r.status_code == 303


def test_link_decisions_are_exported_only_for_the_province_of_the_administrator(env: Env, tmp_path: Path) -> None:
    mine = _world(env, tmp_path)
    k05 = {c.county: c for c in mine["43"] if c.code == "K05"}
    make_user(env, "clerk_b", "county", COUNTY_B)
    _decide(env, "county", k05[COUNTY_A])
    _decide(env, "clerk_b", k05[COUNTY_B])
    home = api_client(env, "province").get("/api/link-decisions").json()
    assert sorted(d["person_id"] for d in home) == sorted([k05[COUNTY_A].person_id, k05[COUNTY_B].person_id])
    assert api_client(env, "elsewhere").get("/api/link-decisions").json() == []
    exported = browser_login(env, "elsewhere").get("/link-decisions.csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert exported.status_code == 200 and rows == []


def test_the_audit_log_of_one_province_is_not_shown_to_another(env: Env, tmp_path: Path) -> None:
    mine = _world(env, tmp_path)
    case = mine[COUNTY_A][0]
    clerk = browser_login(env, "county")
    assert case.person_id in clerk.post(f"/cases/{case.id}/full", data={"csrf_token": clerk.csrf}).text
    assert case.person_id in browser_login(env, "province").get("/audit", params={"action": "view_person"}).text
    other = browser_login(env, "elsewhere")
    assert case.person_id not in other.get("/audit").text
    assert case.person_id not in other.get("/audit.csv").text


