"""Two provinces on one instance: 43 (two counties of city 4301, one of 4305) and 36 (two counties of city
3601), each run by the real pipeline and published by its own administrator. For every role of each
province: the case list page, the API list, the dashboards and the filter menus hold exactly the cases and
places of the role's region (never the neighbouring county, the other city or the other province), and the
masked roles (analyst, inspector) receive no full ID or phone in any body.

The expected cases and places come from the fixture's input rows (`fixture_findings`: county, township,
village of each child), not from the scoping code.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from web_fixtures import (  # noqa: F401 - fixtures
    ANY_ID,
    ANY_MOBILE,
    COUNTIES,
    COUNTY_A,
    COUNTY_A2,
    COUNTY_B,
    COUNTY_C,
    COUNTY_C2,
    PROVINCE_2,
    PROVINCE_2_COUNTIES,
    Env,
    api_client,
    background_children,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_two_provinces,
)
from yidan.settings import SupervisionSettings
from yidan.store import deadlines
from yidan.store.db import session_scope
from yidan.store.models import CLOSED_STATES, Case, Run, RunDeadline, User

USERS = {  # username -> (role, region)
    "admin43": ("province_admin", "43"), "analyst43": ("province_analyst", "43"), "city4301": ("city", "4301"),
    "county430124": ("county", COUNTY_A), "inspector4301": ("inspector", "4301"),
    "admin36": ("province_admin", PROVINCE_2), "analyst36": ("province_analyst", PROVINCE_2),
    "city3601": ("city", "3601"), "county360102": ("county", COUNTY_C), "inspector3601": ("inspector", "3601"),
}
MASKED_ROLES = ("province_analyst", "inspector")
# the counties (with cases) inside each region, written out: the fixture's children live in exactly these
COUNTIES_IN = {"43": set(COUNTIES), "4301": {COUNTY_A, COUNTY_A2}, COUNTY_A: {COUNTY_A},
               PROVINCE_2: set(PROVINCE_2_COUNTIES), "3601": {COUNTY_C, COUNTY_C2}, COUNTY_C: {COUNTY_C}}
# the places one level down that a region's dashboard lists, with the counties they hold
CHILDREN = {"43": {"4301": {COUNTY_A, COUNTY_A2}, "4305": {COUNTY_B}},
            "4301": {COUNTY_A: {COUNTY_A}, COUNTY_A2: {COUNTY_A2}},
            PROVINCE_2: {"3601": {COUNTY_C, COUNTY_C2}}, "3601": {COUNTY_C: {COUNTY_C}, COUNTY_C2: {COUNTY_C2}}}
PLACES = ("43", "4301", "4305", PROVINCE_2, "3601", *COUNTIES, *PROVINCE_2_COUNTIES)
PHONE = "13912340000"  # a phone put on every case's person (the run carries none until issue 14)


def _children() -> list[dict]:
    """The fixture's children, as the two runs were given them (same `start` as publish_two_provinces)."""
    home = [c for county in COUNTIES for c in fixture_findings(county)]
    other = [c for n, county in enumerate(PROVINCE_2_COUNTIES) for c in fixture_findings(county, start=40 + 20 * n)]
    return home + other


@pytest.fixture(name="world")
def world_fixture(env: Env, tmp_path: Path) -> dict[str, tuple[str, str, TestClient, TestClient]]:
    """Both provinces published; each user signed in (page client) and with an API token."""
    admins = {n: make_user(env, n, *USERS[n]) for n in ("admin43", "admin36")}
    publish_two_provinces(env, admins["admin43"], admins["admin36"], tmp_path)
    with session_scope(env.sessions()) as s:
        for cid, person in s.execute(select(Case.id, Case.person)).all():
            s.execute(update(Case).where(Case.id == cid).values(person={**(person or {}), "phone": PHONE}))
    out = {}
    for name, (role, region) in USERS.items():
        if name not in admins:
            make_user(env, name, role, region)
        out[name] = (role, region, browser_login(env, name), api_client(env, name))
    return out


def _cases(env: Env) -> list[Case]:
    with session_scope(env.sessions()) as s:
        return list(s.scalars(select(Case)))


def _options(page: str, name: str) -> set[str]:
    menu = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert menu, f"no {name} menu"
    return {v for v in re.findall(r'<option value="([^"]*)"', menu.group(1)) if v}


def test_every_role_lists_exactly_its_regions_cases_in_pages_the_api_and_the_filter_menus(env: Env, world) -> None:
    cases = _cases(env)
    children = _children()
    assert {c.county for c in cases} == set(COUNTIES) | set(PROVINCE_2_COUNTIES)  # both runs published
    for name, (_role, region, page_client, api) in world.items():
        counties = COUNTIES_IN[region]
        expected = {c.id for c in cases if c.county in counties}
        items = api.get("/api/cases").json()
        assert {c["id"] for c in items["items"]} == expected and items["total"] == len(expected), name
        page = page_client.get("/cases").text
        assert set(map(int, re.findall(r'href="/cases/(\d+)"', page))) == expected, name
        assert f'id="case-total">{len(expected)}<' in page, name
        mine = [c for c in children if c["county"] in counties]
        # the menus (issue 21): above county level the region's counties, then the chosen county's
        # townships (/places/township); villages and schools by typeahead (/places/…), the region's only
        if len(region) < 6:
            assert _options(page, "county") == counties and _options(page, "township") == set(), name
            towns = {i["code"] for county in counties
                     for i in page_client.get(f"/places/township?parent={county}").json()["items"]}
        else:
            towns = _options(page, "township")
        assert towns == {c["township"] for c in mine}, name
        villages = {i["code"] for i in page_client.get("/places/village").json()["items"]}
        assert villages == {c["village"] for c in mine}, name
        schools = {i["code"] for i in page_client.get("/places/school").json()["items"]}
        assert schools and {s[:6] for s in schools} <= counties, name


def _dues_set_and_cases_moved_on(env: Env) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Each province sets due dates for two codes of its round (one already past, one within the week), and
    some cases move on (verified: they owe their 办结 date; closed: nothing). Returns, from the cases' own rows,
    the overdue and within-a-week cases of each county, and the counties' overdue cases."""
    today = deadlines.today()
    day = timedelta(days=1)
    plan = {"r43": {"K01": (today - 2 * day, today + 30 * day), "K02": (today - day, today + 4 * day),
                    "K05": (today - 3 * day, today + 30 * day)},
            "r36": {"K01": (today + day, today + 30 * day), "K03": (today - 5 * day, today - day)}}
    with session_scope(env.sessions()) as s:
        deadlines.ensure(s, settings=SupervisionSettings())  # every round's defaults, as publishing writes them
        for run in s.scalars(select(Run).where(Run.status == "published")):
            admin = s.scalars(select(User).where(User.role == "province_admin", User.region == run.region)).one()
            deadlines.set_dates(s, run=run, user=admin, dates=plan[run.run_id or ""])
        s.execute(update(Case).where(Case.code == "K02").values(state="verified"))  # owes its 办结, not its 核实
        s.execute(update(Case).where(Case.code == "K05", Case.county.in_((COUNTY_A, COUNTY_C))).values(state="closed"))
        dates = {(r.run_pk, r.code): (r.verify_due, r.close_due) for r in s.scalars(select(RunDeadline))}
        overdue: dict[str, int] = {}
        soon: dict[str, int] = {}
        for c in s.scalars(select(Case)):
            if c.state in CLOSED_STATES:
                continue
            verify, close = dates[(c.opened_run_pk, c.code)]
            due = verify if c.state == "open" else close
            overdue[c.county] = overdue.get(c.county, 0) + (due < today)
            soon[c.county] = soon.get(c.county, 0) + (today <= due <= today + 7 * day)
    return overdue, soon, {k: v for k, v in overdue.items() if v}


def test_every_role_sees_its_own_dashboards_with_the_open_and_overdue_cases_of_each_place_and_no_other(
        env: Env, world) -> None:
    cases = _cases(env)
    for name, (_role, region, page_client, api) in world.items():
        for place, below in CHILDREN.items():
            if not place.startswith(region):
                continue
            board = api.get(f"/api/dashboard/{place}").json()
            want = {code: sum(1 for c in cases if c.county in inside) for code, inside in below.items()}
            assert {r["code"]: r["open_cases"] for r in board["children"]} == want, (name, place)
            # the run's counts per place below: its findings (one case each) and its registry children
            assert {r["code"]: r["finding"] for r in board["children"]} == want, (name, place)
            assert {r["code"]: r["status"] for r in board["children"]} == {
                code: sum(len(fixture_findings(c)) + len(background_children(c)) for c in inside)
                for code, inside in below.items()}, (name, place)
            assert sum(board["case_states"].values()) == sum(want.values()), (name, place)
        own = api.get(f"/api/dashboard/{region}").json()
        assert sum(own["case_states"].values()) == sum(1 for c in cases if c.county in COUNTIES_IN[region]), name
        for place in PLACES:  # above, beside or in the other province: not found, so never probed
            if not place.startswith(region):
                r = api.get(f"/api/dashboard/{place}")
                assert (r.status_code, r.json()) == (404, {"detail": f"地区不存在或不在您的权限范围内：{place}",
                                                            "hint": "从仪表板逐级进入。"}), (name, place)
                assert page_client.get(f"/dashboard/{place}").status_code == 404, (name, place)
        page = page_client.get(f"/dashboard/{region}").text
        for place in CHILDREN.get(region, {}):
            assert f'href="/dashboard/{place}"' in page, (name, place)
        assert [p for p in PLACES if not p.startswith(region) and f'href="/dashboard/{p}"' in page] == [], name
    # the reminders (issue 21: one grouped query over the place's own counties): overdue and due within a week
    overdue, soon, by_county = _dues_set_and_cases_moved_on(env)
    assert (overdue[COUNTY_A], soon[COUNTY_A], overdue[COUNTY_A2], overdue[COUNTY_C], soon[COUNTY_C]) == (1, 1, 2, 1, 1)
    for name, (_role, region, page_client, _api) in world.items():
        for place in (region, *CHILDREN.get(region, {})):
            inside = {c for c in (*COUNTIES, *PROVINCE_2_COUNTIES) if c.startswith(place)}
            page = page_client.get(f"/dashboard/{place}").text
            assert f"已超期 <strong>{sum(overdue.get(c, 0) for c in inside)}</strong> 件" in page, (name, place)
            assert f"7 天内到期 <strong>{sum(soon.get(c, 0) for c in inside)}</strong> 件" in page, (name, place)
            if len(place) < 6:  # a city or province: its counties' overdue cases, and no other county
                table = page.split('id="reminders"')[1].split("</section>")[0]
                shown = {c: int(n) for c, n in re.findall(r'href="/supervision/(\d+)">.*?class="num">(\d+)<', table)}
                assert shown == {c: n for c, n in by_county.items() if c in inside}, (name, place)


def test_a_county_user_goes_down_to_its_townships_and_villages_and_sees_their_cases_only(env: Env, world) -> None:
    children = _children()
    for name in ("county430124", "county360102"):
        _role, county, _page, api = world[name]
        mine = [c for c in children if c["county"] == county]
        for township in sorted({c["township"] for c in mine}):
            board = api.get(f"/api/dashboard/{township}").json()
            inside = [c for c in mine if c["township"] == township]
            assert sum(board["case_states"].values()) == len(inside), (name, township)
            per_village: dict[str, int] = {}
            for c in inside:
                per_village[c["village"]] = per_village.get(c["village"], 0) + 1
            for village, n in per_village.items():
                states = api.get(f"/api/dashboard/{village}").json()["case_states"]
                assert sum(states.values()) == n, (name, village)
        other = next(c["township"] for c in children if c["county"] != county)
        assert api.get(f"/api/dashboard/{other}").status_code == 404, (name, other)


def test_no_case_of_another_province_opens_for_anyone(env: Env, world) -> None:
    cases = _cases(env)
    for name, (_role, region, page_client, api) in world.items():
        foreign = [c for c in cases if c.county not in COUNTIES_IN[region]]
        assert foreign, name
        for case in foreign[:: max(1, len(foreign) // 6)]:  # a sample of each province, city and county
            r = api.get(f"/api/cases/{case.id}")
            # the same answer as for a case that does not exist: an id cannot be probed
            assert (r.status_code, r.json()) == (404, {"detail": f"案件不存在或不在本地区：{case.id}",
                                                        "hint": "回到清单重新选择。"}), (name, case.county)
            page = page_client.get(f"/cases/{case.id}")
            assert page.status_code == 404 and f"案件不存在或不在本地区：{case.id}" in page.text, (name, case.county)


def _decide(client: TestClient, case: Case) -> None:
    r = client.post(f"/cases/{case.id}/link-decision", data={"version": case.version, "decision": "确认同一人",
                                                             "csrf_token": client.csrf})
    assert r.status_code == 303, r.text[:300]


def test_each_province_exports_its_own_link_decisions_in_the_order_they_were_made(env: Env, world) -> None:
    k05 = {c.county: c for c in _cases(env) if c.code == "K05"}
    make_user(env, "county430181", "county", COUNTY_A2)
    make_user(env, "county360111", "county", COUNTY_C2)
    # decided in this order: 360111, 430124, 360102, 430181
    for user, county in (("county360111", COUNTY_C2), ("county430124", COUNTY_A), ("county360102", COUNTY_C),
                         ("county430181", COUNTY_A2)):
        _decide(world[user][2] if user in world else browser_login(env, user), k05[county])
    for admin, order in (("admin43", (COUNTY_A, COUNTY_A2)), ("admin36", (COUNTY_C2, COUNTY_C))):
        got = world[admin][3].get("/api/link-decisions").json()
        assert [d["person_id"] for d in got] == [k05[c].person_id for c in order], admin
    # a decided review is 已核实: each dashboard counts the states of its own region's cases
    cases = _cases(env)
    for name, (_role, region, _page, api) in world.items():
        mine = [c for c in cases if c.county in COUNTIES_IN[region]]
        decided = len(COUNTIES_IN[region] & {COUNTY_A, COUNTY_A2, COUNTY_C, COUNTY_C2})  # the four decided above
        states = {k: v for k, v in api.get(f"/api/dashboard/{region}").json()["case_states"].items() if v}
        assert states == {"open": len(mine) - decided, "verified": decided}, name


def test_a_role_without_the_right_is_refused_with_its_role_named(env: Env, world) -> None:
    case = next(c for c in _cases(env) if c.county == COUNTY_C)
    for name, label in (("analyst36", "省级分析员"), ("inspector3601", "督导检查")):
        api = world[name][3]
        r = api.post(f"/api/cases/{case.id}/visit", json={"version": 1, "visited_on": "2021-04-01", "note": "走访"})
        assert (r.status_code, r.json()) == (403, {"detail": f"您的角色（{label}）无权进行此操作。"}), name
    r = world["county360102"][3].get("/api/runs")
    assert (r.status_code, r.json()) == (403, {"detail": "您的角色（县市区）无权进行此操作。"})


def test_masked_roles_receive_no_full_id_or_phone_in_any_body(env: Env, world) -> None:
    cases = _cases(env)
    ids = {c.person_id for c in cases}
    checked = 0
    for name, (role, region, page_client, api) in world.items():
        if role not in MASKED_ROLES:
            continue
        mine = [c for c in cases if c.county in COUNTIES_IN[region]]
        bodies = {"/cases": page_client.get("/cases").text, "/api/cases": api.get("/api/cases").text,
                  "/dashboard": page_client.get(f"/dashboard/{region}").text,
                  "/api/dashboard": api.get(f"/api/dashboard/{region}").text}
        for case in mine:
            for where, r in ((f"/cases/{case.id} ({case.code})", page_client.get(f"/cases/{case.id}")),
                             (f"/api/cases/{case.id} ({case.code})", api.get(f"/api/cases/{case.id}"))):
                assert r.status_code == 200, (name, where)
                bodies[where] = r.text
        for where, body in bodies.items():
            found = [i for i in ids if i in body] + ANY_ID.findall(body) + ANY_MOBILE.findall(body)
            assert PHONE not in body and found == [], (name, where, sorted(set(found))[:3])
        # the masked forms are there: the case is recognisable, not emptied
        some = mine[0]
        assert f"{some.person_id[:6]}********{some.person_id[-4:]}" in bodies[f"/api/cases/{some.id} ({some.code})"]
        checked += len(bodies)
    assert checked > 4 * len(MASKED_ROLES) * 2
