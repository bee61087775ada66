"""The county's list and case work in the browser pages and the API (routes/pages_cases.py, api_cases.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_B,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    explanation_rows,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    review_link,
)
from yidan.store.db import session_scope
from yidan.store.models import Case


def _setup(env: Env, tmp_path: Path) -> dict[str, Case]:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    make_user(env, "clerk2", "county", COUNTY_A)
    make_user(env, "city", "city", "4301")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        return {c.code: c for c in s.scalars(select(Case).where(Case.county == COUNTY_A))}


def test_the_county_list_shows_only_its_own_county_and_filters_by_code_township_and_state(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    client = browser_login(env, "clerk")
    page = client.get("/cases").text
    assert "共 <strong id=\"case-total\">8</strong> 条" in page and COUNTY_B not in page
    k02 = cases["K02"]
    only = client.get("/cases", params={"code": "K02"}, headers={"HX-Request": "true", "HX-Target": "case-rows"}).text
    assert "<html" not in only and f"/cases/{k02.id}" in only and f"/cases/{cases['K01'].id}\"" not in only
    township = client.get("/cases", params={"township": k02.township}).text
    expected = sum(1 for c in cases.values() if c.township == k02.township)
    assert f'id="case-total">{expected}<' in township
    assert 'id="case-total">0<' in client.get("/cases", params={"state": "closed"}).text


def test_a_clerk_assigns_a_team_and_records_a_verification_and_both_show_in_the_history(env: Env, tmp_path: Path) -> None:
    k02 = _setup(env, tmp_path)["K02"]
    client = browser_login(env, "clerk")
    r = client.post(f"/cases/{k02.id}/team", data={
        "csrf_token": client.csrf, "version": 1, "member1_name": "周校长", "member1_role": "教育干部",
        "member2_name": "吴老师", "member2_role": "教师", "member3_name": "郑支书", "member3_role": "村干部"})
    assert r.status_code == 303
    r = client.post(f"/cases/{k02.id}/verification", data={
        "csrf_token": client.csrf, "version": 2, "conclusion": "已劝返复学", "verified_on": "2021-04-02", "note": "已到校"})
    assert r.status_code == 303
    page = client.get(f"/cases/{k02.id}").text
    assert "周校长（教育干部）" in page and "核实结论：已劝返复学" in page and "劝返中" in page


def test_two_clerks_editing_one_case_do_not_overwrite_each_other(env: Env, tmp_path: Path) -> None:
    k02 = _setup(env, tmp_path)["K02"]
    first, second = browser_login(env, "clerk"), browser_login(env, "clerk2")
    form = {"version": 1, "visited_on": "2021-04-01"}
    assert first.post(f"/cases/{k02.id}/visit", data={**form, "note": "第一次走访", "csrf_token": first.csrf}).status_code == 303
    r = second.post(f"/cases/{k02.id}/visit", data={**form, "note": "第二次走访", "csrf_token": second.csrf})
    assert r.status_code == 409 and "已被他人修改" in r.text
    page = first.get(f"/cases/{k02.id}").text
    assert "第一次走访" in page and "第二次走访" not in page


def test_closing_a_dropout_needs_the_city_and_the_clerk_who_asked_cannot_confirm(env: Env, tmp_path: Path) -> None:
    k02 = _setup(env, tmp_path)["K02"]
    clerk, city = browser_login(env, "clerk"), browser_login(env, "city")
    assert clerk.post(f"/cases/{k02.id}/verification", data={
        "version": 1, "conclusion": "已劝返复学", "verified_on": "2021-04-02", "csrf_token": clerk.csrf}).status_code == 303
    # a 劝返 closes with its proof (issue 16): the upload is a change of the case (version 3)
    assert clerk.post(f"/cases/{k02.id}/attachments", data={"csrf_token": clerk.csrf, "purpose": "复学证明"},
                      files={"file": ("复学证明.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}).status_code == 303
    assert clerk.post(f"/cases/{k02.id}/closure-request", data={"version": 3, "csrf_token": clerk.csrf}).status_code == 303
    assert "待市州确认销号" in clerk.get(f"/cases/{k02.id}").text
    r = clerk.post(f"/cases/{k02.id}/closure-confirm", data={"version": 4, "approve": "true", "csrf_token": clerk.csrf})
    assert r.status_code == 403
    assert city.post(f"/cases/{k02.id}/closure-confirm",
                     data={"version": 4, "approve": "true", "csrf_token": city.csrf}).status_code == 303
    assert "已销号" in city.get(f"/cases/{k02.id}").text


def test_a_city_clerk_who_asked_for_closure_cannot_confirm_it_himself(env: Env, tmp_path: Path) -> None:
    k01 = _setup(env, tmp_path)["K01"]
    city = browser_login(env, "city")
    city.post(f"/cases/{k01.id}/verification", data={"version": 1, "conclusion": "因病缓学", "verified_on": "2021-04-02",
                                                    "csrf_token": city.csrf})
    city.post(f"/cases/{k01.id}/closure-request", data={"version": 2, "csrf_token": city.csrf})
    r = city.post(f"/cases/{k01.id}/closure-confirm", data={"version": 3, "approve": "true", "csrf_token": city.csrf})
    assert r.status_code == 400 and "不能自己确认" in r.text


def test_a_k05_review_is_stored_and_exported_as_the_link_decisions_table(env: Env, tmp_path: Path) -> None:
    k05 = _setup(env, tmp_path)["K05"]
    clerk = browser_login(env, "clerk")
    page = clerk.get(f"/cases/{k05.id}").text
    # the candidate and the model's field-by-field comparison side by side, as the run wrote them
    link = review_link(tmp_path / "r1", k05.person_id)
    assert link["student_no"] in page and f"{link['match_probability'] * 100:.1f}%" in page
    rows = explanation_rows(link)
    assert rows and all(row in page for row in rows), rows
    assert "<td>身份证号</td>" in page and "<td>姓名</td>" in page  # the comparison's field names, spelled out
    r = clerk.post(f"/cases/{k05.id}/link-decision", data={"version": 1, "decision": "确认同一人",
                                                           "csrf_token": clerk.csrf})
    assert r.status_code == 303
    admin = browser_login(env, "admin")
    exported = admin.get("/link-decisions.csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows == [{"身份证号": k05.person_id, "全国学籍号": k05.link["student_no"], "复核结论": "确认同一人",
                     "复核人": "clerk", "复核日期": rows[0]["复核日期"]}]


def test_the_api_records_an_action_and_answers_409_for_a_stale_version(env: Env, tmp_path: Path) -> None:
    k03 = _setup(env, tmp_path)["K03"]
    clerk = browser_login(env, "clerk")
    page = clerk.post("/account/tokens", data={"csrf_token": clerk.csrf}).text
    token = page.split('id="new-token">')[1].split("<")[0]
    api = TestClient(env.app, headers={"Authorization": f"Bearer {token}"})
    r = api.post(f"/api/cases/{k03.id}/verification", json={"version": 1, "conclusion": "省外就读",
                                                             "verified_on": "2021-04-01", "province": "广东省"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["state"] == "verified"
    stale = api.post(f"/api/cases/{k03.id}/visit", json={"version": 1, "visited_on": "2021-04-03", "note": "电话"})
    assert stale.status_code == 409 and "已被他人修改" in stale.json()["detail"]
    bad = api.post(f"/api/cases/{k03.id}/verification", json={"version": 2, "conclusion": "搬家了",
                                                               "verified_on": "2021-04-01"})
    assert bad.status_code == 400 and "核实结论无效" in bad.json()["detail"]
    assert "/api/cases/{case_id}/team" in api.get("/api/openapi.json").json()["paths"]


def test_the_dashboard_drills_down_from_province_to_township(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    admin = browser_login(env, "admin")
    province = admin.get("/dashboard/43").text
    assert 'href="/dashboard/4301"' in province and 'href="/dashboard/4305"' in province
    city = admin.get("/dashboard/4301").text
    assert f'href="/dashboard/{COUNTY_A}"' in city and "<svg" in city
    county = admin.get(f"/dashboard/{COUNTY_A}").text
    townships = sorted({c.township for c in cases.values()})
    assert townships and all(f'href="/dashboard/{t}"' in county for t in townships)
    data = TestClient(env.app)
    assert data.get("/api/dashboard/43").status_code == 401


def test_the_list_puts_children_not_out_of_poverty_and_back_in_poverty_first(env: Env, tmp_path: Path) -> None:
    """The speech calls 未脱贫 and 返贫 children the priority: they head the web list as they head the workbook."""
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    children = fixture_findings(COUNTY_A)
    # the last two children in the list's usual order (by township and code) become the priority ones
    by_code = {c["code"]: c for c in children}
    by_code["Z02"]["registry"]["poverty_status"] = "返贫"
    by_code["K08"]["registry"]["poverty_status"] = "未脱贫"
    by_code["K01"]["registry"]["poverty_status"] = "已脱贫"
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=children)
    page = browser_login(env, "clerk").get("/cases").text
    with session_scope(env.sessions()) as s:
        ids = {c.code: c.id for c in s.scalars(select(Case).where(Case.county == COUNTY_A))}
    order = sorted(ids, key=lambda code: page.index(f'href="/cases/{ids[code]}"'))
    assert order[:2] == ["K08", "Z02"], order
