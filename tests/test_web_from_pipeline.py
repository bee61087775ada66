"""The web fixtures are runs of the real pipeline, and the pages show what such a run holds.

The fixture children (web_fixtures.py) are input rows; each must raise exactly the finding it is
written for, or every web test built on them tests something else. The household columns
(head of household, phone) and the candidate's own name travel from the inputs through the run's
persons and links (issue 14) to the case page.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    CODES,
    COUNTIES,
    COUNTY_A,
    ENROLLED_AS,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    write_run,
)
from yidan.store.db import session_scope
from yidan.store.models import Case


def test_each_fixture_child_raises_exactly_the_finding_it_is_written_for(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", run_id="fixture-check")
    children = [c for county in COUNTIES for c in fixture_findings(county)]
    got = pq.read_table(run.path / "findings.parquet").to_pylist()
    assert sorted((f["finding_key"], f["county"]) for f in got) == sorted(
        (c["finding_key"], c["county"]) for c in children)
    aid = {f["finding_key"]: f for f in got if f["code"].startswith("Z")}
    for c in children:
        if c["family"] == "aid":
            assert (aid[c["finding_key"]]["amount_expected"], aid[c["finding_key"]]["amount_paid"]) == (
                c["amount_expected"], c["amount_paid"]), c["code"]
    assert len(got) == len(COUNTIES) * len(CODES)
    assert run.manifest["status"] == "complete" and run.run_id == "fixture-check"


def test_a_failed_fixture_run_says_so_and_writes_no_findings(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", run_id="stopped", status="failed")
    assert run.manifest["status"] == "failed" and not (run.path / "findings.parquet").exists()


def _case(env: Env, tmp_path: Path, code: str) -> tuple[Case, dict]:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    make_user(env, "analyst", "province_analyst", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    child = next(c for c in fixture_findings(COUNTY_A) if c["code"] == code)
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.finding_key == child["finding_key"]))
    assert case is not None
    return case, child


def test_the_case_page_shows_the_head_of_household_and_the_phone_masked_for_the_analyst(env: Env,
                                                                                         tmp_path: Path) -> None:
    case, child = _case(env, tmp_path, "K02")
    phone, head = child["registry"]["phone"], child["registry"]["head_name"]
    client = browser_login(env, "clerk")
    clerk = client.get(f"/cases/{case.id}").text
    assert head in clerk and phone not in clerk and f"{phone[:3]}****{phone[-4:]}" in clerk  # masked by default
    revealed = client.post(f"/cases/{case.id}/full", data={"csrf_token": client.csrf}).text  # 查看完整信息, audited
    assert head in revealed and phone in revealed
    analyst = browser_login(env, "analyst").get(f"/cases/{case.id}").text
    assert phone not in analyst and f"{phone[:3]}****{phone[-4:]}" in analyst


def test_the_k05_page_shows_the_candidates_enrolled_name_beside_the_childs(env: Env, tmp_path: Path) -> None:
    case, child = _case(env, tmp_path, "K05")
    page = browser_login(env, "clerk").get(f"/cases/{case.id}").text
    enrolled = child["enrollment"][0]
    assert enrolled["name"] == ENROLLED_AS["K05"] != child["name"]
    assert f"<td>{child['name']}</td><td>{enrolled['name']}</td>" in page
