"""The one list a field team can act on (issue 14), read as the team reads it: every workbook sheet and
the case page of every finding code, from a real run of the generated tiny province, published into a
test database. No raw region or school code without its name, no English key, and a household box
with the head and the (masked) phone wherever the registry gave them."""

from __future__ import annotations

import html
import re
from collections import Counter

import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
)
from yidan.contract.outputs import NEXT_STEPS
from yidan.reports import write_workbooks
from yidan.store.db import session_scope
from yidan.store.models import Case, User

# the next step a clerk reads for a few codes, spelled out here (NEXT_STEPS alone would pass if it were wrong)
SPELLED_STEPS = {"K01": "入户核实就学情况", "K02": "入户劝返复学", "Z01": "核实后补发"}

# English identifiers that must never reach a user: snake_case keys (paid_by, via_linkage, head_name…)
ENGLISH_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b")
TAGS = re.compile(r"<[^>]+>")



def masked_mobile(phone: str | None) -> str:
    """A mobile as a masked list shows it, written out from the contract (first three, four stars, last four),
    not computed by the masking code under test. Every phone of these runs is a mobile."""
    if not phone:
        return ""
    assert re.fullmatch(r"1[3-9]\d{9}", phone), phone
    return f"{phone[:3]}****{phone[-4:]}"

def _codes(run) -> dict[str, str]:
    """Township, village and school codes of the run -> their names (what a cell must show beside a code)."""
    persons = pq.read_table(run.parquet_path("persons")).to_pylist()
    out: dict[str, str] = {}
    for p in persons:
        for code, name in ((p["hukou_township"], p["township_name"]), (p["hukou_village"], p["village_name"]),
                           (p["school_code"], p["school_name"])):
            if code and name:
                out[code] = name
    return out


def _bare_codes(text: str, codes: dict[str, str]) -> list[str]:
    """Codes in `text` shown without their name."""
    found = []
    for token in re.findall(r"\d{9,12}", text):
        if token in codes and codes[token] not in text:
            found.append(token)
    return found


@pytest.fixture(scope="module")
def books(tiny_run, tmp_path_factory):
    return write_workbooks(tiny_run, tmp_path_factory.mktemp("books"), "county")


def test_every_sheet_of_every_county_workbook_shows_names_and_chinese_only(tiny_run, books):
    codes = _codes(tiny_run)
    assert codes, "the tiny preset carries township, village and school names"
    assert books  # one workbook per county: the scan below is not over nothing
    for book in books:
        wb = CalamineWorkbook.from_path(str(book))
        for sheet in wb.sheet_names:
            if sheet == "_yidan":  # very hidden: the run and region a returned workbook maps back to
                continue
            rows = wb.get_sheet_by_name(sheet).to_python()
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    text = str(cell)
                    if r > 0 and c == 0 and sheet != "封面":
                        continue  # the hidden 问题标识 column (the key the importer maps rows back by)
                    assert not ENGLISH_KEY.search(text), (book.name, sheet, r, c, text)
                    assert not _bare_codes(text, codes), (book.name, sheet, r, c, text)


def test_a_finding_row_in_the_workbook_carries_the_household_place_school_and_next_step(tiny_run, books):
    findings = {f["finding_key"]: f for f in tiny_run.findings().to_pylist()}
    seen = set()
    checked: Counter[str] = Counter()
    for book in books:
        wb = CalamineWorkbook.from_path(str(book))
        for sheet in ("控辍保学", "学生资助", "数据质量"):
            rows = wb.get_sheet_by_name(sheet).to_python()
            head = rows[0]
            for row in rows[1:]:
                cell = dict(zip(head, row, strict=True))
                f = findings[cell["问题标识"]]
                seen.add(f["code"])
                assert cell["下一步"] == NEXT_STEPS[f["code"]]
                if f["code"] in SPELLED_STEPS:
                    assert SPELLED_STEPS[f["code"]] in cell["下一步"], (f["code"], cell["下一步"])
                if f["head_name"]:
                    assert cell["户主姓名"] == f["head_name"]
                    checked["head"] += 1
                if f["phone"]:  # masked in the county workbook, as on the web lists
                    assert cell["联系电话"] == masked_mobile(f["phone"]) and cell["联系电话"] != f["phone"]
                    checked["phone"] += 1
                if f["village"]:
                    assert cell["村"] and not cell["村"].isdigit()
                    checked["village"] += 1
                if f["school_code"] and f["school_name"]:
                    assert cell["学校"] == f["school_name"]
                    checked["school"] += 1
    assert seen == {f["code"] for f in findings.values()}
    assert seen >= set(SPELLED_STEPS)
    # every conditional check above ran on at least one row (none passed by never running)
    assert set(checked) == {"head", "phone", "village", "school"}, checked


def _publish(env: Env, run) -> None:
    from yidan.store.crud import runs as run_crud
    from yidan.store.publish import publish_run

    admin = make_user(env, "admin", "province_admin", "43")
    with session_scope(env.sessions()) as s:
        r = run_crud.create_run(s, path=str(run.path), region="43", started_by=admin.id, status="complete")
        r.run_id, r.term = run.run_id, run.term
        user = s.get(User, admin.id)
        assert user is not None
        publish_run(s, run=r, user=user)


def _visible(page: str, section: str) -> str:
    m = re.search(rf'<section class="card" id="{section}">(.*?)</section>', page, re.S)
    return html.unescape(TAGS.sub(" ", m.group(1))) if m else ""


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_case_page_of_every_finding_code_shows_the_household_and_names(env: Env, tiny_run) -> None:
    _publish(env, tiny_run)
    persons = {p["person_id"]: p for p in tiny_run.persons().to_pylist()}
    codes = _codes(tiny_run)
    with session_scope(env.sessions()) as s:
        one_per_code = {}
        for case in s.scalars(select(Case).order_by(Case.id)):
            one_per_code.setdefault(case.code, (case.id, case.county, case.person_id))
    assert set(one_per_code) >= {"K01", "K02", "K05", "Z01"}
    checked: Counter[str] = Counter()
    for code, (case_id, county, person_id) in sorted(one_per_code.items()):
        username = f"clerk{county}"
        with session_scope(env.sessions()) as s:
            if s.scalar(select(User).where(User.username == username)) is None:
                make_user(env, username, "county", county)
        clerk = browser_login(env, username)
        page = clerk.get(f"/cases/{case_id}").text
        for section in ("child", "household", "evidence", "link-review"):
            text = _visible(page, section)
            assert not ENGLISH_KEY.search(text), (code, section, ENGLISH_KEY.findall(text))
            assert not _bare_codes(text, codes), (code, section, text)
        household = _visible(page, "household")
        p = persons.get(person_id)
        if p and p["head_name"]:
            assert p["head_name"] in household, (code, household)
            checked["head"] += 1
        if p and p["phone"]:  # masked by default; the full number on 查看完整信息 (audited)
            assert p["phone"] not in household and masked_mobile(p["phone"]) in household, (code, household)
            full = _visible(clerk.post(f"/cases/{case_id}/full", data={"csrf_token": clerk.csrf}).text, "household")
            assert p["phone"] in full, (code, full)
            checked["phone"] += 1
        if p and p["village_name"]:
            assert p["village_name"] in household and p["county_name"] in household
            checked["village"] += 1
        assert NEXT_STEPS[code] in _visible(page, "evidence")
        if code in SPELLED_STEPS:
            assert SPELLED_STEPS[code] in _visible(page, "evidence"), code
    assert set(checked) == {"head", "phone", "village"}, checked  # each conditional check ran at least once


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_k05_review_sets_both_records_side_by_side_in_clerk_words(env: Env, tiny_run) -> None:
    _publish(env, tiny_run)
    links = [lk for lk in tiny_run.links().to_pylist() if lk["decision"] == "review"]
    with session_scope(env.sessions()) as s:
        k05 = s.scalars(select(Case).where(Case.code == "K05")).first()
        assert k05 is not None
        case_id, county, person_id, name = k05.id, k05.county, k05.person_id, k05.name
    (cand,) = [lk for lk in links if lk["person_id"] == person_id][:1]
    make_user(env, "k05clerk", "county", county)
    make_user(env, "k05analyst", "province_analyst", "43")
    clerk = browser_login(env, "k05clerk")
    page = clerk.get(f"/cases/{case_id}").text
    review = _visible(page, "link-review")
    assert name in review and cand["student_name"] in review and cand["school_name"] in review
    # birth dates as year and month by default; the day on 查看完整信息 (audited)
    born = cand["student_birth_date"]
    assert f"{born:%Y-%m}" in review and str(born) not in review
    full = _visible(clerk.post(f"/cases/{case_id}/full", data={"csrf_token": clerk.csrf}).text, "link-review")
    assert str(born) in full
    assert "比特" not in review and "权重" not in review
    assert re.search(r"姓名(读音相同（.字同音不同字）|相同|一字不同|不同)|仅姓氏相同", review), review
    assert 'class="agree"' in page and ("出生日期相同" in review or "出生日期相差" in review)
    # an analyst sees the IDs masked
    masked = _visible(browser_login(env, "k05analyst").get(f"/cases/{case_id}").text, "link-review")
    assert person_id not in masked and person_id[:6] + "********" + person_id[-4:] in masked


def test_the_cover_counts_unmatched_children_as_k01_and_names_the_others_by_age(tiny_run, books):
    findings = tiny_run.findings().to_pylist()
    persons = tiny_run.persons().to_pylist()
    for book in books:
        county = book.name[:6]
        rows = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("封面").to_python()
        cover = {r[0]: r[1:] for r in rows if r and r[0]}
        k01 = sum(1 for f in findings if f["code"] == "K01" and f["county"] == county)
        assert cover["学籍未匹配"][0] == k01
        young = [p for p in persons if p["hukou_county"] == county and p["age"] < 6 and p["student_no"] is None
                 and p["status"] in ("UNMATCHED", "NOT_IN_KINDERGARTEN")]
        assert cover["未入园"][:4] == [len(young), len(young), 0, 0]
        assert "未脱贫" in [r[1] for r in rows if len(r) > 1]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_list_and_the_county_dashboard_name_townships_villages_and_count_their_children(env: Env, tiny_run) -> None:
    _publish(env, tiny_run)
    persons = tiny_run.persons().to_pylist()
    county = "433127"
    make_user(env, "listclerk", "county", county)
    client = browser_login(env, "listclerk")
    page = html.unescape(client.get("/cases", params={"county": county}).text)
    with session_scope(env.sessions()) as s:
        cases = list(s.scalars(select(Case).where(Case.county == county)))
    shown = [c for c in cases if (c.person or {}).get("head_name")]
    assert shown
    for c in shown[:5]:
        p = c.person
        assert p["head_name"] in page and p["village_name"] in page
    phones = [c.person["phone"] for c in shown if c.person.get("phone")][:5]
    assert phones  # the masking check below runs on real numbers
    for phone in phones:
        assert masked_mobile(phone) in page and phone not in page
    dash = html.unescape(client.get(f"/dashboard/{county}").text)
    towns: dict[str, int] = {}
    for p in persons:
        if p["hukou_county"] == county and p["hukou_township"]:
            towns[p["township_name"]] = towns.get(p["township_name"], 0) + 1
    assert towns
    for name, n in towns.items():
        assert re.search(rf"<td>{re.escape(name)}</td><td class=\"num\">{n}</td>", dash), (name, n)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_api_list_carries_the_household_place_names_and_next_step_with_the_phone_masked(env: Env,
                                                                                         tiny_run) -> None:
    from fastapi.testclient import TestClient

    _publish(env, tiny_run)
    persons = {p["person_id"]: p for p in tiny_run.persons().to_pylist()}
    make_user(env, "apiclerk", "county", "433127")
    clerk = browser_login(env, "apiclerk")
    token = clerk.post("/account/tokens", data={"csrf_token": clerk.csrf}).text.split('id="new-token">')[1].split("<")[0]
    items = TestClient(env.app, headers={"Authorization": f"Bearer {token}"}).get("/api/cases").json()["items"]
    assert items
    households = 0
    for item in items:
        assert item["next_step"]
        with session_scope(env.sessions()) as s:  # the list masks the ID: find the person by the case
            case = s.get(Case, item["id"])
            assert case is not None
            p = persons.get(case.person_id)
        if p and p["head_name"]:
            assert item["head_name"] == p["head_name"]
            assert item["phone"] == (masked_mobile(p["phone"]) or None)
            assert p["county_name"] in item["place"] and (p["village_name"] or "") in item["place"]
            households += 1
    assert households  # the household checks above ran on at least one item
