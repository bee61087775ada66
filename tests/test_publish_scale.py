"""Publishing at province scale (issue 21): unchanged cases keep their version, a run is published
once, a clerk's closure survives a publish of data older than it, and dashboards read the
per-region counts written at publish."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_B,
    Env,
    cases_by_key,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    register_run,
    write_run,
)
from yidan.store.crud import cases as crud
from yidan.store.crud import runs as run_crud
from yidan.store.db import session_scope
from yidan.store.errors import ActionError
from yidan.store.models import Case, Run, User
from yidan.store.publish import publish_job


def test_a_second_run_bumps_only_the_cases_whose_facts_changed(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    first = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=first)
    before = {k: c.version for k, c in cases_by_key(env).items()}
    second = copy.deepcopy(first)
    moved = next(c for c in second if c["code"] == "K03" and c["county"] == COUNTY_A)
    moved["registry"]["phone"] = "13900000000"  # the family's new phone: that case's person record changes
    _, result = publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2", findings=second)
    after = cases_by_key(env)
    assert result.kept == len(first) and result.opened == 0
    bumped = {k for k, c in after.items() if c.version != before[k]}
    assert bumped == {moved["finding_key"]}
    assert after[moved["finding_key"]].person["phone"] == "13900000000"
    # a clerk who opened an untouched case before the publish saves without a conflict
    k02 = next(c for c in first if c["code"] == "K02" and c["county"] == COUNTY_A)
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.finding_key == k02["finding_key"]))
        crud.record_verification(s, case=case, user=s.merge(clerk), expected_version=before[k02["finding_key"]],
                                 conclusion="确系辍学", verified_on=date(2021, 4, 1))
    assert cases_by_key(env)[k02["finding_key"]].state == "verified"


def test_the_same_run_registered_twice_is_published_once_and_the_trend_shows_it_once(
        env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    run_pk = register_run(env, admin, write_run(tmp_path / "r1", run_id="r1").path)
    twin = register_run(env, admin, tmp_path / "r1")
    # a twin registered but not yet published does not stop the first from being published
    publish_job(env.sessions(), run_pk=run_pk, user_id=admin.id)
    n_cases = len(cases_by_key(env))
    assert n_cases > 0
    with pytest.raises(ActionError, match=f"比对 r1 已经发布过（记录号 {run_pk}），同一比对不能重复发布。\n"
                                          "处理建议：如需更新清单，请发起新的比对并发布。"):
        publish_job(env.sessions(), run_pk=twin, user_id=admin.id)
    # a run written again into the published run's folder (another run id) is refused: the folder is taken
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text(encoding="utf-8"))
    (tmp_path / "r1" / "manifest.json").write_text(json.dumps({**manifest, "run_id": "r1-again"}), encoding="utf-8")
    again = register_run(env, admin, tmp_path / "r1")
    with pytest.raises(ActionError, match=f"比对 r1-again 已经发布过（记录号 {run_pk}）"):
        publish_job(env.sessions(), run_pk=again, user_id=admin.id)
    # the same run copied to another folder is the same run too (its run id says so)
    copy_pk = register_run(env, admin, write_run(tmp_path / "r1-copy", run_id="r1").path)
    with pytest.raises(ActionError, match=f"比对 r1 已经发布过（记录号 {run_pk}）"):
        publish_job(env.sessions(), run_pk=copy_pk, user_id=admin.id)
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Run).where(Run.status == "published")) == 1
        assert s.get(Run, twin).status == "complete"
    assert len(cases_by_key(env)) == n_cases
    from yidan.store.crud import stats

    with session_scope(env.sessions()) as s:
        trend = stats.dashboard(s, region="43", runs=run_crud.published_runs(s, region="43")).trend
    assert [t["run"] for t in trend] == ["r1"]


def _close_by_hand(env: Env, clerk: User, key: str) -> datetime:
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.finding_key == key))
        user = s.merge(clerk)
        crud.record_verification(s, case=case, user=user, expected_version=case.version,
                                 conclusion="确系辍学", verified_on=date(2021, 4, 1))
        crud.request_closure(s, case=case, user=user, expected_version=case.version, note="已返校")
        assert case.state == "closed"
    return datetime.now(UTC)


def test_a_manual_closure_is_kept_unless_a_newer_run_still_shows_the_finding(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    first = fixture_findings(COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=first)
    key = next(c["finding_key"] for c in first if c["code"] == "K03")
    closed_at = _close_by_hand(env, clerk, key)
    # the same data, read before the clerk closed the case, published again under another run id
    old = write_run(tmp_path / "r1b", run_id="r1b", findings=first).path
    result = publish_job(env.sessions(), run_pk=register_run(env, admin, old, started_at=closed_at - timedelta(hours=1)),
                         user_id=admin.id)
    assert result.reopened == 0 and cases_by_key(env)[key].state == "closed"
    # a newer run that no longer shows it leaves it closed too
    _, result = publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2",
                                    findings=[c for c in first if c["finding_key"] != key])
    assert cases_by_key(env)[key].state == "closed"
    assert result.resolved == 0  # a case closed by hand is not counted (nor logged) as settled by data
    with session_scope(env.sessions()) as s:
        kinds = [e.kind for e in crud.get_case(s, case_id=cases_by_key(env)[key].id, region=COUNTY_A).events]
    assert "resolved" not in kinds
    # a run newer than the closure that still shows the finding reopens it, and says so in its history
    _, result = publish_fixture_run(env, admin, tmp_path / "r3", run_id="r3", findings=first)
    assert result.reopened == 1
    case = cases_by_key(env)[key]
    assert case.state == "open"
    with session_scope(env.sessions()) as s:
        kinds = [e.kind for e in crud.get_case(s, case_id=case.id, region=COUNTY_A).events]
    assert kinds[-1] == "reopened" and "closed" in kinds


def test_dashboards_read_the_counts_of_their_own_region(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2",
                        findings=[f for f in findings if not (f["county"] == COUNTY_B and f["code"] == "K01")])
    from yidan.store.crud import stats

    with session_scope(env.sessions()) as s:
        runs = run_crud.published_runs(s, region=COUNTY_B)
        dash_b = stats.dashboard(s, region=COUNTY_B, runs=runs)
        dash_p = stats.dashboard(s, region="43", runs=run_crud.published_runs(s, region="43"))
    n_b = sum(1 for f in findings if f["county"] == COUNTY_B)
    assert [t["findings"] for t in dash_b.trend] == [n_b, n_b - 1]
    assert [t["findings"] for t in dash_p.trend] == [len(findings), len(findings) - 1]
    assert dash_b.findings.get("K01", 0) == 0 and sum(dash_b.findings.values()) == n_b - 1
    # the province's children are its cities, each with its own count
    n_a = len(findings) - n_b
    assert {c["code"]: c["finding"] for c in dash_p.children} == {COUNTY_A[:4]: n_a, COUNTY_B[:4]: n_b - 1}


def test_publishing_reads_only_the_findings_persons(env: Env, tmp_path: Path, monkeypatch: Any) -> None:
    """The persons file is read with a filter (push-down), never whole; nor is any other table of the run
    (the findings by a few columns and then in batches, the summary by columns and rows)."""
    from yidan.runs.rundir import RunDir

    reads: list[tuple[str, bool]] = []
    real = RunDir.table

    def spy(self: RunDir, name: str, **kw: Any) -> Any:
        table = real(self, name, **kw)
        reads.append((name, any(v is not None for v in kw.values())))
        return table

    monkeypatch.setattr(RunDir, "table", spy)
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    assert ("persons", True) in reads and ("persons", False) not in reads and ("links", False) not in reads
    assert {name for name, sliced in reads if not sliced} == set()  # findings and summary too
    cases = cases_by_key(env)
    # the filtered read still found every child's record (the background children were never needed)
    assert cases and all(c.person.get("person_id") == c.person_id for c in cases.values())


def test_a_run_that_read_its_data_at_the_closure_itself_or_says_not_when_is_judged_by_its_times(
        env: Env, tmp_path: Path) -> None:
    """A run that read its data at the very moment a clerk closed the case is not newer than the closure;
    a run directory without `started_at` counts from when the run was registered (after the closure)."""
    from yidan.store.models import CaseEvent

    admin = make_user(env, "admin", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    first = fixture_findings(COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=first)
    key = next(c["finding_key"] for c in first if c["code"] == "K03")
    _close_by_hand(env, clerk, key)
    with session_scope(env.sessions()) as s:
        closed_at = s.scalar(select(func.max(CaseEvent.at)).join(Case).where(Case.finding_key == key))
    assert closed_at is not None
    tie = write_run(tmp_path / "tie", run_id="tie", findings=first).path
    result = publish_job(env.sessions(), run_pk=register_run(env, admin, tie, started_at=closed_at), user_id=admin.id)
    assert result.reopened == 0 and cases_by_key(env)[key].state == "closed"
    undated = write_run(tmp_path / "undated", run_id="undated", findings=first).path
    manifest = json.loads((undated / "manifest.json").read_text(encoding="utf-8"))
    del manifest["started_at"]
    (undated / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    result = publish_job(env.sessions(), run_pk=register_run(env, admin, undated), user_id=admin.id)
    assert result.reopened == 1 and cases_by_key(env)[key].state == "open"
