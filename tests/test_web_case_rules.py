"""Case rules by finding code (contract/codes.py CASE_RULES), as the pages and the API apply them:
allowed conclusions, which actions apply, what closing needs; the note kept in the history; a refused
form keeps what the clerk typed; implausible dates refused; search by ID for the roles that may see IDs."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    Env,
    api_client,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.store.db import session_scope
from yidan.store.models import Case


def _setup(env: Env, tmp_path: Path) -> dict[str, Case]:
    admin = make_user(env, "admin", "province_admin", "43")
    for name, role, region in (("clerk", "county", COUNTY_A), ("clerk2", "county", COUNTY_A), ("city", "city", "4301"),
                               ("inspector", "inspector", "4301")):
        make_user(env, name, role, region)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        return {c.code: c for c in s.scalars(select(Case).where(Case.county == COUNTY_A))}


def _history(page: str) -> str:
    return page.split('id="history"', 1)[1]


def test_closing_a_missed_aid_case_needs_a_recorded_payment_covering_it_a_note_and_a_file(env: Env,
                                                                                        tmp_path: Path) -> None:
    z01 = _setup(env, tmp_path)["Z01"]
    api = api_client(env, "clerk")
    bare = api.post(f"/api/cases/{z01.id}/closure-request", json={"version": 1})
    assert bare.status_code == 400 and "销号前须先记录核实结论" in bare.json()["detail"]
    assert "已补发" in bare.json()["hint"]
    unpaid = api.post(f"/api/cases/{z01.id}/verification", json={"version": 1, "conclusion": "已补发",
                                                                 "verified_on": "2021-05-10"})
    assert unpaid.status_code == 400 and "须先登记补发" in unpaid.json()["detail"]
    part = api.post(f"/api/cases/{z01.id}/aid-payment", json={"version": 1, "amount": "600.00", "on_date": "2021-05-08",
                                                             "voucher_no": "BF-2021-017"})
    assert part.status_code == 200 and part.json()["aid"]["paid"] == "600.00"
    ok = api.post(f"/api/cases/{z01.id}/verification", json={"version": 2, "conclusion": "已补发",
                                                             "verified_on": "2021-05-10"})
    assert ok.status_code == 200 and ok.json()["state"] == "verified"
    no_note = api.post(f"/api/cases/{z01.id}/closure-request", json={"version": 3})
    assert no_note.status_code == 400 and "须填写说明" in no_note.json()["detail"]
    no_file = api.post(f"/api/cases/{z01.id}/closure-request", json={"version": 3, "note": "2021年5月补发"})
    assert no_file.status_code == 400 and "销号前须先上传佐证附件" in no_file.json()["detail"]
    voucher = base64.b64encode(b"\xff\xd8\xff\xe0 voucher").decode()
    assert api.post(f"/api/cases/{z01.id}/attachments", json={"purpose": "补发凭证", "filename": "凭证.jpg",
                                                              "content_base64": voucher}).status_code == 200
    short = api.post(f"/api/cases/{z01.id}/closure-request", json={"version": 4, "note": "2021年5月补发"})
    assert short.status_code == 400 and "应补发 625.00 元，已登记补发 600.00 元" in short.json()["detail"]
    assert api.post(f"/api/cases/{z01.id}/aid-payment", json={"version": 4, "amount": 25, "on_date": "2021-05-09",
                                                              "voucher_no": "BF-2021-018"}).status_code == 200
    closed = api.post(f"/api/cases/{z01.id}/closure-request", json={"version": 5, "note": "2021年5月补发"})
    # 625.00 is below the city's threshold (supervision.city_confirm_amount, 1000.00): the county closes it
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert closed.json()["aid"]["confirmation"] == "已销号，待下一轮比对的发放数据核实补发"


def test_each_code_accepts_its_own_conclusions(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    api = api_client(env, "clerk")
    dropout = api.post(f"/api/cases/{cases['K02'].id}/verification",
                       json={"version": 1, "conclusion": "确系辍学", "verified_on": "2021-04-01"})
    assert dropout.status_code == 200 and "核实结论：确系辍学" in dropout.json()["events"][-1]["summary"]
    wrong = api.post(f"/api/cases/{cases['Z02'].id}/verification",
                     json={"version": 1, "conclusion": "确系辍学", "verified_on": "2021-04-01"})
    assert wrong.status_code == 400 and "核实结论无效" in wrong.json()["detail"] and "已追回" in wrong.json()["hint"]
    assert "劝返" not in wrong.json()["hint"]
    page = browser_login(env, "clerk").get(f"/cases/{cases['Z02'].id}").text
    options = re.findall(r"<option[^>]*>([^<]+)</option>", page.split('id="form-verification"')[1].split("</select>")[0])
    assert "已追回" in options and "确系辍学" not in options and "失联" not in options


def test_aid_cases_offer_no_persuasion_forms_and_the_api_refuses_them(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    clerk = browser_login(env, "clerk")
    aid, dropout = clerk.get(f"/cases/{cases['Z01'].id}").text, clerk.get(f"/cases/{cases['K02'].id}").text
    for form in ('id="form-team"', 'id="form-returned"'):
        assert form not in aid and form in dropout
    team = {f"member{i}_name": f"成员{i}" for i in (1, 2, 3)}
    r = api_client(env, "clerk").post(f"/api/cases/{cases['Z01'].id}/team", json={"version": 1, **team})
    assert r.status_code == 400 and "不适用此操作" in r.json()["detail"]
    r = clerk.post(f"/cases/{cases['Z02'].id}/returned", data={"version": 1, "school": "一中", "csrf_token": clerk.csrf})
    assert r.status_code == 400 and "不适用此操作" in r.text


def test_the_verification_note_is_kept_in_the_history(env: Env, tmp_path: Path) -> None:
    k03 = _setup(env, tmp_path)["K03"]
    clerk = browser_login(env, "clerk")
    r = clerk.post(f"/cases/{k03.id}/verification", data={
        "version": 1, "conclusion": "省外就读", "province": "广东省", "verified_on": "2021-04-02",
        "note": "电话联系家长，在东莞读初二", "csrf_token": clerk.csrf})
    assert r.status_code == 303
    assert "电话联系家长，在东莞读初二" in _history(clerk.get(f"/cases/{k03.id}").text)


def test_a_refused_or_conflicting_form_keeps_what_the_clerk_typed(env: Env, tmp_path: Path) -> None:
    k02 = _setup(env, tmp_path)["K02"]
    first, second = browser_login(env, "clerk"), browser_login(env, "clerk2")
    form = {"version": 1, "visited_on": "2021-04-01"}
    assert first.post(f"/cases/{k02.id}/visit", data={**form, "note": "第一次走访", "csrf_token": first.csrf}).status_code == 303
    r = second.post(f"/cases/{k02.id}/visit", data={**form, "note": "第二次走访：孩子在外婆家", "csrf_token": second.csrf})
    assert r.status_code == 409
    visit = html.unescape(r.text.split('id="form-visit"')[1].split("</form>")[0])
    assert '>第二次走访：孩子在外婆家</textarea>' in visit and 'value="2021-04-01"' in visit
    assert 'name="version" value="2"' in visit  # resubmitting applies it to the current version
    r = first.post(f"/cases/{k02.id}/verification", data={
        "version": 2, "conclusion": "确系辍学", "verified_on": "2999-01-01", "note": "外出打工", "csrf_token": first.csrf})
    assert r.status_code == 400 and "核实日期不合理" in r.text
    ver = r.text.split('id="form-verification"')[1].split("</form>")[0]
    assert 'value="外出打工"' in ver and "<option selected>确系辍学</option>" in ver


def test_an_implausible_date_is_refused_by_the_api(env: Env, tmp_path: Path) -> None:
    k01 = _setup(env, tmp_path)["K01"]
    api = api_client(env, "clerk")
    for day in ("2999-01-01", "1900-01-01"):
        r = api.post(f"/api/cases/{k01.id}/verification", json={"version": 1, "conclusion": "失联", "verified_on": day})
        assert r.status_code == 400 and "核实日期不合理" in r.json()["detail"], day
    r = api.post(f"/api/cases/{k01.id}/visit", json={"version": 1, "visited_on": "2999-01-01", "note": "x"})
    assert r.status_code == 400 and "走访日期不合理" in r.json()["detail"]


def test_a_k05_case_is_closed_only_after_its_review(env: Env, tmp_path: Path) -> None:
    k05 = _setup(env, tmp_path)["K05"]
    api = api_client(env, "clerk")
    assert api.post(f"/api/cases/{k05.id}/closure-request", json={"version": 1}).status_code == 400
    assert api.post(f"/api/cases/{k05.id}/link-decision", json={"version": 1, "decision": "不是同一人"}).status_code == 200
    closed = api.post(f"/api/cases/{k05.id}/closure-request", json={"version": 2})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"


def test_search_by_id_for_roles_that_see_ids_and_refused_for_masked_roles(env: Env, tmp_path: Path) -> None:
    cases = _setup(env, tmp_path)
    k02 = cases["K02"]
    clerk = browser_login(env, "clerk")
    full = clerk.get("/cases", params={"id_number": k02.person_id}).text
    rows = full.split('id="case-rows"')[1]  # the typed ID stays in the search box, the list shows it masked
    assert re.findall(r'href="/cases/(\d+)"', rows) == [str(k02.id)] and k02.person_id not in rows
    partial = api_client(env, "clerk").get("/api/cases", params={"id_number": k02.person_id[8:14]}).json()
    expected = {c.id for c in cases.values() if k02.person_id[8:14] in c.person_id}
    assert {c["id"] for c in partial["items"]} == expected and k02.id in expected
    assert api_client(env, "clerk").get("/api/cases", params={"id_number": "12"}).status_code == 400
    refused = api_client(env, "inspector").get("/api/cases", params={"id_number": k02.person_id})
    assert refused.status_code == 400 and "不能按身份证号查询" in refused.json()["detail"]
    page = browser_login(env, "inspector").get("/cases", params={"id_number": k02.person_id[:10]})
    assert page.status_code == 400 and f"/cases/{k02.id}" not in page.text


def test_a_masked_role_cannot_test_a_guessed_id_through_a_finding_key(env: Env, tmp_path: Path) -> None:
    k02 = _setup(env, tmp_path)["K02"]
    guess = k02.finding_key  # what someone who guessed the ID would type
    assert api_client(env, "inspector").get("/api/cases", params={"q": guess}).json()["total"] == 0
    assert [c["id"] for c in api_client(env, "clerk").get("/api/cases", params={"q": guess}).json()["items"]] == [k02.id]
