"""Publishing turns findings into cases; cases carry over between runs (store/publish.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
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
from yidan.store.models import Case, CaseEvent, Run
from yidan.store.publish import preview_publish, publish_run


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


# --- what a run covers (issue 13, item 2) -----------------------------------------------------------------

COUNTY_A2 = "430105"  # a second county in the city of COUNTY_A
AID = ("aid", "policies")
ALL_TABLES = ("registry", "enrollment", *AID)


def _run(env: Env, admin: Any, path: Path, run_id: str, findings: list[dict[str, Any]], *,
         coverage: dict[str, Any] | None = None, region: str = "43",
         edit: Callable[[pa.Table], pa.Table] | None = None) -> int:
    """A complete run (registered, not published) whose manifest says what it covered; `edit` changes its
    findings.parquet (for a run the pipeline cannot write: a duplicated key, no findings at all)."""
    rd = write_run(path, run_id=run_id, findings=findings)
    if edit is not None:
        pq.write_table(edit(pq.read_table(path / "findings.parquet")), path / "findings.parquet")
    if coverage is not None:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        manifest["coverage"] = coverage
        (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region=region, started_by=admin.id, status="complete")
        run.run_id, run.term = run_id, rd.term
        return run.id


def _publish(env: Env, admin: Any, run_pk: int, **kw: Any) -> Any:
    with session_scope(env.sessions()) as s:
        run = s.get(Run, run_pk)
        return publish_run(s, run=run, user=s.merge(admin), **kw)


def _states(env: Env) -> dict[str, str]:
    with session_scope(env.sessions()) as s:
        return {k: st for k, st in s.execute(select(Case.finding_key, Case.state))}


def _province(env: Env, tmp_path: Path) -> tuple[Any, list[dict[str, Any]]]:
    """Three counties in two cities, every code, published by a full run."""
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_A2, start=20) + fixture_findings(COUNTY_B)
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    _publish(env, admin, _run(env, admin, tmp_path / "full", "full", findings, coverage=cov))
    assert set(_states(env).values()) == {"open"}
    return admin, findings


def test_a_one_county_run_resolves_only_that_countys_cases(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    mine = [f for f in findings if f["county"] == COUNTY_A and f["code"] != "K01"]  # the K01 child was found
    cov = {"counties": [COUNTY_A], "tables": list(ALL_TABLES), "school_terms": ["2021春"], "aid_terms": ["2021春"]}
    result = _publish(env, admin, _run(env, admin, tmp_path / "one", "one", mine, coverage=cov))
    states = _states(env)
    gone = next(f["finding_key"] for f in findings if f["county"] == COUNTY_A and f["code"] == "K01")
    assert states[gone] == "resolved"
    assert {k: s for k, s in states.items() if s != "open"} == {gone: "resolved"}  # other counties untouched
    assert (result.resolved, result.counties[COUNTY_A]["resolved"], set(result.counties)) == (1, 1, {COUNTY_A})


def test_a_covered_county_without_any_finding_left_has_all_its_cases_resolved(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    # the run read COUNTY_A2's registry and found nothing wrong there any more
    kept = [f for f in findings if f["county"] == COUNTY_A]
    cov = {"counties": [COUNTY_A, COUNTY_A2], "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    result = _publish(env, admin, _run(env, admin, tmp_path / "two", "two", kept, coverage=cov))
    states = _states(env)
    a2 = {f["finding_key"] for f in findings if f["county"] == COUNTY_A2}
    assert {k for k, s in states.items() if s == "resolved"} == a2
    assert result.counties[COUNTY_A2]["resolved"] == len(a2) and result.counties[COUNTY_A]["kept"] == len(kept)


def test_a_run_without_aid_files_never_resolves_an_aid_case(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    schooling = [f for f in findings if not f["code"].startswith("Z")]
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": ["registry", "enrollment"],
           "school_terms": ["2021春"], "aid_terms": ["2021春"]}  # aid terms without aid files mean nothing
    result = _publish(env, admin, _run(env, admin, tmp_path / "noaid", "noaid", schooling, coverage=cov))
    assert result.resolved == 0 and set(_states(env).values()) == {"open"}


def test_a_run_of_an_earlier_term_does_not_resolve_this_terms_cases(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    earlier = fixture_findings(COUNTY_A, term="2020秋")
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2020秋"],
           "aid_terms": ["2020秋"]}
    result = _publish(env, admin, _run(env, admin, tmp_path / "autumn", "autumn", earlier, coverage=cov))
    states = _states(env)
    assert result.resolved == 0 and all(states[f["finding_key"]] == "open" for f in findings)


def test_a_run_of_another_province_is_refused_and_touches_nothing(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    other = fixture_findings("440106")
    cov = {"counties": ["440106"], "tables": list(ALL_TABLES), "school_terms": ["2021春"], "aid_terms": ["2021春"]}
    run_pk = _run(env, admin, tmp_path / "gd", "gd", other, coverage=cov)
    with pytest.raises(ActionError, match="不属于本省"):
        _publish(env, admin, run_pk)
    # and a run whose manifest claims another province's counties resolves nothing here
    _publish(env, admin, _run(env, admin, tmp_path / "empty", "empty", other, coverage=cov,
                              edit=lambda t: t.slice(0, 0)))
    assert set(_states(env).values()) == {"open"} and len(_states(env)) == len(findings)


def test_a_run_with_a_duplicated_finding_key_is_refused_before_anything_is_written(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A)
    run_pk = _run(env, admin, tmp_path / "dup", "dup", findings, edit=lambda t: pa.concat_tables([t, t.slice(3, 1)]))
    with pytest.raises(ActionError, match="重复的问题编号"):
        _publish(env, admin, run_pk)
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.get(Run, run_pk).status == "complete"  # type: ignore[union-attr]


def test_resolving_more_than_the_threshold_needs_confirmation_and_the_preview_says_so_per_county(
        env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    left = [f for f in findings if f["county"] == COUNTY_B]
    run_pk = _run(env, admin, tmp_path / "big", "big", left, coverage=cov)
    with session_scope(env.sessions()) as s:
        preview = preview_publish(s, run=s.get(Run, run_pk), threshold=10)
    n_a = sum(1 for f in findings if f["county"] == COUNTY_A)
    assert preview.result.counties[COUNTY_A] == {"opened": 0, "kept": 0, "reopened": 0, "resolved": n_a}
    assert preview.result.counties[COUNTY_B]["kept"] == len(left) and preview.needs_confirmation
    with session_scope(env.sessions()) as s:  # exactly the threshold is still fine
        assert not preview_publish(s, run=s.get(Run, run_pk), threshold=preview.result.resolved).needs_confirmation
    with pytest.raises(ActionError, match="超过需要确认的数量"):
        _publish(env, admin, run_pk, threshold=10)
    assert set(_states(env).values()) == {"open"}
    result = _publish(env, admin, run_pk, threshold=10, confirm=True)
    assert result.resolved == len(findings) - len(left) == preview.result.resolved


def _retag(table: pa.Table, term: str) -> pa.Table:
    """The same findings as if judged in another term (keys follow the term)."""
    rows = table.to_pylist()
    for r in rows:
        r["term"] = term
        r["finding_key"] = f"{r['code']}|{term}|{r['programme_code'] or '-'}|{r['person_id']}"
    return pa.Table.from_pylist(rows, schema=table.schema)


def test_a_later_term_settles_earlier_schooling_cases_but_aid_only_for_the_terms_it_audited(
        env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    children = fixture_findings(COUNTY_A)
    cov = {"counties": [COUNTY_A], "tables": list(ALL_TABLES), "school_terms": ["2020秋"], "aid_terms": ["2020秋"]}
    _publish(env, admin, _run(env, admin, tmp_path / "autumn", "autumn", children, coverage=cov,
                              edit=lambda t: _retag(t, "2020秋")))
    cov = {"counties": [COUNTY_A], "tables": list(ALL_TABLES), "school_terms": ["2021春"], "aid_terms": ["2021春"]}
    _publish(env, admin, _run(env, admin, tmp_path / "spring", "spring", children, coverage=cov))
    with session_scope(env.sessions()) as s:
        earlier = {(c, st) for c, st in s.execute(select(Case.code, Case.state).where(Case.term == "2020秋"))}
    assert {state for code, state in earlier if code.startswith("Z")} == {"open"}  # 2020秋 payments not audited
    assert {state for code, state in earlier if code.startswith("K")} == {"resolved"}
