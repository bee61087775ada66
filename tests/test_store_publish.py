"""Publishing turns findings into cases; cases carry over between runs (store/publish.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_B,
    Env,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    review_link,
    write_run,
)
from yidan.store.crud import cases as crud
from yidan.store.crud import runs as run_crud
from yidan.store.db import session_scope
from yidan.store.errors import ActionError
from yidan.store.models import Case, CaseEvent
from yidan.store.publish import publish_run


def _cases(env: Env) -> dict[str, Case]:
    with session_scope(env.sessions()) as s:
        return {c.finding_key: c for c in s.scalars(select(Case))}


def test_publishing_opens_one_case_per_finding_with_the_child_and_the_candidate_link(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B)
    _, result = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    cases = _cases(env)
    assert result.opened == len(findings) and set(cases) == {f["finding_key"] for f in findings}
    k05 = next(c for c in cases.values() if c.code == "K05" and c.county == COUNTY_A)
    child = next(f for f in findings if f["code"] == "K05" and f["county"] == COUNTY_A)
    # the candidate is the record the child was enrolled under, with the probability the run wrote
    assert k05.link["student_no"] == child["enrollment"][0]["student_no"]
    assert k05.link["match_probability"] == pytest.approx(review_link(tmp_path / "r1", k05.person_id)["match_probability"])
    assert k05.person["birth_date"] == child["registry"]["birth_date"]
    k01 = next(c for c in cases.values() if c.code == "K01")
    assert k01.link == {} and k01.state == "open"


def test_a_case_keeps_its_history_and_one_absent_from_the_next_run_is_closed_by_data(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    first = fixture_findings(COUNTY_A)
    _, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=first)
    k02 = next(f for f in first if f["code"] == "K02")
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.finding_key == k02["finding_key"]))
        from datetime import date

        crud.record_verification(s, case=case, user=s.merge(clerk), expected_version=case.version, conclusion="失联",
                                 verified_on=date(2021, 4, 1))
    second = [f for f in first if f["code"] != "K01"]  # the K01 child was found enrolled
    run2, result = publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2", findings=second)
    cases = _cases(env)
    k01_key = next(f["finding_key"] for f in first if f["code"] == "K01")
    assert (result.kept, result.resolved, result.opened) == (len(second), 1, 0)
    assert cases[k01_key].state == "resolved" and cases[k01_key].closed_run_pk == run2
    kept = cases[k02["finding_key"]]
    assert kept.state == "verified"
    with session_scope(env.sessions()) as s:
        kinds = list(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == kept.id).order_by(CaseEvent.id)))
        gone = s.scalar(select(CaseEvent.summary).where(CaseEvent.case_id == cases[k01_key].id,
                                                        CaseEvent.kind == "resolved"))
    assert kinds == ["opened", "verification"]
    assert "r2" in gone and "对账销号" in gone


def test_a_closed_case_whose_finding_comes_back_is_reopened(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    first = fixture_findings(COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=first)
    publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2", findings=first[1:])
    _, result = publish_fixture_run(env, admin, tmp_path / "r3", run_id="r3", findings=first)
    assert result.reopened == 1
    assert _cases(env)[first[0]["finding_key"]].state == "open"


def test_a_published_run_cannot_be_published_again_and_an_incomplete_one_not_at_all(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    run_pk, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        n = s.scalar(select(func.count()).select_from(Case))
        run = run_crud.get_run(s, run_pk=run_pk, region="43")
        with pytest.raises(ActionError, match="已发布"):
            publish_run(s, run=run, user=s.merge(admin))
        rd = write_run(tmp_path / "r2", run_id="r2", status="failed")
        failed = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="failed")
        with pytest.raises(ActionError, match="尚未完成"):
            publish_run(s, run=failed, user=s.merge(admin))
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == n
