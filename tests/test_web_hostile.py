"""Hostile and careless input gets a 4xx with a Chinese message, never a 500: wrong content
types, lone surrogates and NUL, huge numbers in paths and queries, bodies past the limit,
absurd dates; the 422 answer never echoes the input and the log never holds a body."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError
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
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import Case, CaseEvent
from yidan.web.security import new_api_token
from yidan.web.validation import NoteText, PlausibleDate, validation_message


@pytest.fixture
def clerk_api(env: Env, tmp_path: Path) -> tuple[TestClient, Case]:
    admin = make_user(env, "admin", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(clerk), name="t", token_hash=hashed)
        case = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K02"))
    api = TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})
    return api, case


def _chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@pytest.mark.parametrize(("ctype", "body"), [
    ("application/x-www-form-urlencoded", b"version=1&visited_on=2021-04-01&note=x"),
    ("text/plain", b"version=1"),
    ("application/xml", b"<visit><version>1</version></visit>"),
])
def test_the_api_answers_a_body_that_is_not_json_with_415_in_chinese(clerk_api, ctype: str, body: bytes) -> None:
    api, case = clerk_api
    r = api.post(f"/api/cases/{case.id}/visit", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 415 and "JSON" in r.json()["detail"] and _chinese(r.json()["detail"])


@pytest.mark.parametrize("raw", [b'{"version": 1, "visited_on": "2021-04-01", "note": "\\ud800"}',
                                 b'{"version": 1, "visited_on": "2021-04-01", "note": "a\\u0000b"}',
                                 b'{"version": 99999999999999999999999, "visited_on": "2021-04-01", "note": "x"}'])
def test_lone_surrogates_nul_and_numbers_beyond_64_bits_in_json_are_refused(clerk_api, raw: bytes) -> None:
    api, case = clerk_api
    r = api.post(f"/api/cases/{case.id}/visit", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "无法接受" in r.json()["detail"]


def test_invalid_utf8_and_broken_json_get_400_or_422_in_chinese(clerk_api) -> None:
    api, case = clerk_api
    for raw in (b'{"note": "\xff\xfe"}', b'{"version": 1,', b"[" * 100_000):
        r = api.post(f"/api/cases/{case.id}/visit", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422) and _chinese(r.json()["detail"]), raw[:20]


def test_ids_and_pages_beyond_any_row_are_not_found_or_clamped(env: Env, clerk_api) -> None:
    api, _ = clerk_api
    r = api.get("/api/cases/99999999999999999999")
    assert r.status_code == 404 and r.json()["detail"] == "页面不存在。"
    assert api.get("/api/cases/2147483648").status_code == 404
    assert api.get("/api/cases/-9223372036854775809").status_code == 404
    assert api.get("/api/dashboard/-99999999999999999999").status_code == 404
    assert api.get("/api/runs/99999999999999999999").status_code == 404
    listing = api.get("/api/cases", params={"page": "9223372036854775807"})
    assert listing.status_code == 200 and listing.json()["items"] == [] and listing.json()["total"] == 8
    assert api.get("/api/cases", params={"page": "99999999999999999999"}).status_code == 422
    browser = browser_login(env, "clerk")
    page = browser.get("/cases/99999999999999999999")
    assert page.status_code == 404 and "页面不存在" in page.text
    assert browser.get("/cases", params={"page": "9223372036854775807"}).status_code == 200


def test_a_query_with_nul_is_refused_not_sent_to_the_database(env: Env, clerk_api) -> None:
    api, _ = clerk_api
    r = api.get("/api/cases", params={"q": "张\x00"})
    assert r.status_code == 422 and "空字符" in r.json()["detail"]


def test_a_json_body_over_one_megabyte_is_refused_and_nothing_is_saved(env: Env, clerk_api) -> None:
    api, case = clerk_api
    note = "走访" * 600_000  # 3.6 MB of UTF-8
    r = api.post(f"/api/cases/{case.id}/visit", json={"version": case.version, "visited_on": "2021-04-01",
                                                      "note": note})
    assert r.status_code == 413 and "上限 1 MB" in r.json()["detail"] and len(r.content) < 2000
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(CaseEvent).where(CaseEvent.kind == "visit")) is None


def test_a_form_over_the_limit_is_refused_on_pages_too(env: Env, clerk_api) -> None:
    _, case = clerk_api
    browser = browser_login(env, "clerk")
    r = browser.post(f"/cases/{case.id}/visit", data={"csrf_token": browser.csrf, "version": str(case.version),
                                                      "visited_on": "2021-04-01", "note": "x" * 2_000_000})
    assert r.status_code == 413 and "提交的内容太大" in r.text and len(r.content) < 50_000


def test_the_workbook_page_states_the_upload_limit_and_a_larger_upload_gets_413(env: Env, clerk_api) -> None:
    browser = browser_login(env, "clerk")
    assert "合计不超过 20 MB" in browser.get("/workbook").text
    r = browser.post("/workbook/upload", data={"csrf_token": browser.csrf},
                     files={"workbook": ("big.xlsx", b"0" * (21 * 1024 * 1024), "application/octet-stream")})
    assert r.status_code == 413 and "上限 20 MB" in r.text


def test_the_422_answer_names_the_field_but_never_echoes_the_input(clerk_api) -> None:
    api, case = clerk_api
    marker = "MARKER-" + "y" * 1500
    r = api.post(f"/api/cases/{case.id}/visit", json={"version": marker, "visited_on": marker, "note": marker})
    assert r.status_code == 422 and "version" in r.json()["detail"] and "应为整数" in r.json()["detail"]
    assert "MARKER" not in r.text and len(r.content) < 1500


def test_an_unexpected_error_is_a_chinese_500_and_the_log_holds_no_body(
        env: Env, clerk_api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    api, case = clerk_api
    from yidan.web.routes import api_cases

    def explode(*_: object, payload: object, **__: object) -> None:
        raise RuntimeError(f"broken while saving {payload!r}")

    monkeypatch.setattr(api_cases, "apply", explode)
    with caplog.at_level(logging.ERROR, logger="yidan.web"):
        r = api.post(f"/api/cases/{case.id}/visit", json={"version": case.version, "visited_on": "2021-04-01",
                                                          "note": "SECRET-NOTE-TEXT"})
    assert r.status_code == 500 and "服务器内部错误" in r.json()["detail"] and "SECRET" not in r.text
    assert "RuntimeError" in caplog.text and "SECRET-NOTE-TEXT" not in caplog.text


def test_shared_validators_refuse_implausible_dates_and_overlong_notes() -> None:
    dates = TypeAdapter(PlausibleDate)
    assert dates.validate_python("2021-03-01") == date(2021, 3, 1)
    for bad in ("2999-01-01", "1900-01-01", (date.today() + timedelta(days=400)).isoformat()):
        with pytest.raises(ValidationError) as err:
            dates.validate_python(bad)
        assert "日期应在 2000-01-01 至" in validation_message(err.value.errors())

    class Visit(BaseModel):
        note: NoteText

    Visit(note="x" * 2000)
    with pytest.raises(ValidationError) as err:
        Visit(note="x" * 2001)
    message = validation_message(err.value.errors())
    assert "最多 2000 个字符" in message and "xxxx" not in message


def test_no_text_field_longer_than_a_note_is_saved_from_a_form_or_json(env: Env, clerk_api) -> None:
    api, case = clerk_api
    long_note = "走" * 2001
    r = api.post(f"/api/cases/{case.id}/visit", json={"version": case.version, "visited_on": "2021-04-01",
                                                      "note": long_note})
    assert r.status_code == 422 and "note 太长（最多 2000 个字符）" in r.json()["detail"] and long_note not in r.text
    browser = browser_login(env, "clerk")
    r = browser.post(f"/cases/{case.id}/visit", data={"csrf_token": browser.csrf, "version": str(case.version),
                                                      "visited_on": "2021-04-01", "note": long_note})
    assert r.status_code == 422 and "太长" in r.text
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(CaseEvent).where(CaseEvent.kind == "visit")) is None
    ok = api.post(f"/api/cases/{case.id}/visit", json={"version": case.version, "visited_on": "2021-04-01",
                                                       "note": "走" * 2000})
    assert ok.status_code == 200 and any(e["kind"] == "visit" for e in ok.json()["events"])


def test_a_token_name_longer_than_its_column_is_refused_in_chinese(env: Env, clerk_api) -> None:
    browser = browser_login(env, "clerk")
    r = browser.post("/account/tokens", data={"csrf_token": browser.csrf, "name": "市" * 65})
    assert r.status_code == 422 and "name 太长，最多 64 个字符" in r.text
    ok = browser.post("/account/tokens", data={"csrf_token": browser.csrf, "name": "市" * 64})
    assert ok.status_code == 200 and "市" * 64 in ok.text
