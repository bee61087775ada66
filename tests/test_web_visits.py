"""走访台账 on the web (issue 19): the villages of the user's region, each a PDF with the same children as
the CLI's, the 三帮一 teams the web holds, masked data only; a village outside the region is not found;
each download is audited."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_B,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry, Case


def _text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return "".join("".join(p.extract_text().replace("\x00", "").split()) for p in reader.pages)


def test_a_county_downloads_the_visit_list_of_its_village_with_the_team_and_masked_data(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        k02 = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K02"))
        assert k02 is not None
        k02_id, village = k02.id, k02.village
        in_village = set(s.scalars(select(Case.person_id).where(Case.village == village)))
        elsewhere = s.scalar(select(Case.village).where(Case.county == COUNTY_B))
    client = browser_login(env, "clerk")
    team = {f"member{i}_{k}": v for i, (name, role) in enumerate((("王老师", "教师"), ("李书记", "村干部"),
                                                                 ("赵干部", "教育干部")), start=1)
            for k, v in (("name", name), ("role", role))}
    assert client.post(f"/cases/{k02_id}/team", data={"csrf_token": client.csrf, "version": 1, **team}).status_code == 303

    page = client.get("/visits").text
    assert f"/visits/download?by=village&amp;unit={village}" in page and elsewhere not in page
    r = client.get("/visits/download", params={"by": "village", "unit": village})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = _text(r.content)
    for pid in in_village:
        assert pid[:6] + "********" + pid[-4:] in text and pid not in text
    assert "王老师（教师）" in text and "李书记（村干部）" in text  # the team the web holds
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(AuditEntry.target).where(AuditEntry.action == "export_visits")).endswith(".pdf")

    # a village of another county is not found, whatever its code
    assert client.get("/visits/download", params={"by": "village", "unit": elsewhere}).status_code == 404
    assert client.get("/visits/download", params={"by": "school", "unit": "x' OR '1'='1"}).status_code == 404


def test_the_school_lists_are_offered_too_and_an_inspector_gets_none(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    make_user(env, "insp", "inspector", "4301")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        school = s.scalar(select(Case.school_code).where(Case.county == COUNTY_A, Case.code == "K02"))
    client = browser_login(env, "clerk")
    assert f"unit={school}" in client.get("/visits", params={"by": "school"}).text
    r = client.get("/visits/download", params={"by": "school", "unit": school})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert browser_login(env, "insp").get("/visits").status_code == 403


def test_the_workbook_downloaded_from_the_web_lists_the_team_and_follows_a_change(env: Env, tmp_path: Path) -> None:
    import openpyxl

    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        k02 = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K02"))
        assert k02 is not None
        k02_id, key = k02.id, k02.finding_key
    client = browser_login(env, "clerk")

    def team_cell() -> object:
        ws = openpyxl.load_workbook(io.BytesIO(client.get("/workbook/download").content))["控辍保学"]
        headers = {c.value: c.column for c in ws[1]}
        (row,) = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == key]
        return row[headers["三帮一小组"] - 1]

    assert team_cell() in (None, "")  # no team yet (and the workbook cached for this state)
    team = {f"member{i}_{k}": v for i, (name, role) in enumerate((("王老师", "教师"), ("李书记", "村干部"),
                                                                 ("赵干部", "教育干部")), start=1)
            for k, v in (("name", name), ("role", role))}
    assert client.post(f"/cases/{k02_id}/team", data={"csrf_token": client.csrf, "version": 1, **team}).status_code == 303
    assert team_cell() == "王老师（教师）、李书记（村干部）、赵干部（教育干部）"
