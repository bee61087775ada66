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
    COUNTIES,
    COUNTY_A,
    COUNTY_A2,
    COUNTY_B,
    COUNTY_C,
    COUNTY_C2,
    PROVINCE_2,
    PROVINCE_2_COUNTIES,
    TERM,
    Env,
    case_states,
    cases_by_key,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    publish_registered,
    publish_two_provinces,
    register_run,
    review_link,
    write_run,
)
from yidan.store.crud import cases as crud
from yidan.store.crud import runs as run_crud
from yidan.store.db import session_scope
from yidan.store.errors import ActionError
from yidan.store.models import Case, CaseEvent, Run
from yidan.store.publish import listed, preview_publish, publish_run


def test_publishing_opens_one_case_per_finding_with_the_child_and_the_candidate_link(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B)
    _, result = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    cases = cases_by_key(env)
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
    cases = cases_by_key(env)
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
    assert cases_by_key(env)[first[0]["finding_key"]].state == "open"


def test_a_published_run_cannot_be_published_again_and_an_incomplete_one_not_at_all(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    run_pk, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        n = s.scalar(select(func.count()).select_from(Case))
        run = run_crud.get_run(s, run_pk=run_pk, region="43")
        # each refusal says what to do next (the hint the page and the API show)
        with pytest.raises(ActionError, match="比对 r1 已发布，已发布的比对不可更改。\n处理建议：如需更新清单，请发起新的比对并发布。"):
            publish_run(s, run=run, user=s.merge(admin))
        rd = write_run(tmp_path / "r2", run_id="r2", status="failed")
        failed = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="failed")
        with pytest.raises(ActionError, match="比对尚未完成（状态：failed），不能发布。\n处理建议：等待比对完成后再发布。"):
            publish_run(s, run=failed, user=s.merge(admin))
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == n


# --- what a run covers (issue 13, item 2) -----------------------------------------------------------------

AID = ("aid", "policies")
ALL_TABLES = ("registry", "enrollment", *AID)


def _run(env: Env, admin: Any, path: Path, run_id: str, findings: list[dict[str, Any]], *,
         coverage: dict[str, Any] | None = None, region: str = "43", province: str = "43", term: str = TERM,
         edit: Callable[[pa.Table], pa.Table] | None = None) -> int:
    """A complete run (registered as a run of `region`, not published) whose manifest says what it covered;
    `province` and `term` are what the pipeline ran for; `edit` changes its findings.parquet (for a run the
    pipeline cannot write: a duplicated key, no findings at all)."""
    rd = write_run(path, run_id=run_id, findings=findings, province=province, term=term)
    if edit is not None:
        pq.write_table(edit(pq.read_table(path / "findings.parquet")), path / "findings.parquet")
    if coverage is not None:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        manifest["coverage"] = coverage
        (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return register_run(env, admin, rd.path, region=region)


def _province(env: Env, tmp_path: Path) -> tuple[Any, list[dict[str, Any]]]:
    """Three counties in two cities, every code, published by a full run (the default run's inputs: computed
    once for the whole test session)."""
    admin = make_user(env, "admin", "province_admin", "43")
    findings = [c for county in COUNTIES for c in fixture_findings(county)]
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    publish_registered(env, admin, _run(env, admin, tmp_path / "full", "full", findings, coverage=cov))
    assert set(case_states(env).values()) == {"open"}
    return admin, findings


def test_a_one_county_run_resolves_only_that_countys_cases(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    mine = [f for f in findings if f["county"] == COUNTY_A and f["code"] != "K01"]  # the K01 child was found
    cov = {"counties": [COUNTY_A], "tables": list(ALL_TABLES), "school_terms": ["2021春"], "aid_terms": ["2021春"]}
    result = publish_registered(env, admin, _run(env, admin, tmp_path / "one", "one", mine, coverage=cov))
    states = case_states(env)
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
    result = publish_registered(env, admin, _run(env, admin, tmp_path / "two", "two", kept, coverage=cov))
    states = case_states(env)
    a2 = {f["finding_key"] for f in findings if f["county"] == COUNTY_A2}
    assert {k for k, s in states.items() if s == "resolved"} == a2
    assert result.counties[COUNTY_A2]["resolved"] == len(a2) and result.counties[COUNTY_A]["kept"] == len(kept)


def test_a_run_without_aid_files_never_resolves_an_aid_case(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    schooling = [f for f in findings if not f["code"].startswith("Z")]
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": ["registry", "enrollment"],
           "school_terms": ["2021春"], "aid_terms": ["2021春"]}  # aid terms without aid files mean nothing
    result = publish_registered(env, admin, _run(env, admin, tmp_path / "noaid", "noaid", schooling, coverage=cov))
    assert result.resolved == 0 and set(case_states(env).values()) == {"open"}


def test_a_run_of_an_earlier_term_does_not_resolve_this_terms_cases(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    earlier = [c for county in COUNTIES for c in fixture_findings(county, term="2020秋")]
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2020秋"],
           "aid_terms": ["2020秋"]}
    result = publish_registered(env, admin, _run(env, admin, tmp_path / "autumn", "autumn", earlier, coverage=cov,
                                                 term="2020秋"))
    states = case_states(env)
    assert result.resolved == 0 and all(states[f["finding_key"]] == "open" for f in findings)
    assert result.opened == len(earlier)  # judged for 2020秋: every finding is a case of its own


def test_schooling_cases_are_settled_only_for_the_school_terms_and_aid_cases_only_for_the_aid_terms(
        env: Env, tmp_path: Path) -> None:
    """A run judged schooling for 2020秋 and audited aid for 2021春 (audit terms are chosen apart from the
    run's term): of this term's cases it settles the aid ones it no longer finds, never the schooling ones."""
    admin, findings = _province(env, tmp_path)
    autumn = [c for county in COUNTIES for c in fixture_findings(county, term="2020秋")]
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2020秋"],
           "aid_terms": ["2021春"]}
    result = publish_registered(env, admin, _run(env, admin, tmp_path / "autumn", "autumn", autumn, coverage=cov,
                                                 term="2020秋"))
    states = case_states(env)
    aid = {f["finding_key"] for f in findings if f["code"].startswith("Z")}
    assert {f["finding_key"] for f in findings if states[f["finding_key"]] == "resolved"} == aid
    assert result.resolved == len(aid) and result.opened == len(autumn)


def test_a_run_of_another_province_is_refused_and_touches_nothing(env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    # a run of 江西 (36; the inputs of the two-province fixture) handed to Hunan's server
    other = [c for n, county in enumerate(PROVINCE_2_COUNTIES) for c in fixture_findings(county, start=40 + 20 * n)]
    cov = {"counties": list(PROVINCE_2_COUNTIES), "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    run_pk = _run(env, admin, tmp_path / "jx", "jx", other, coverage=cov, province=PROVINCE_2)
    with pytest.raises(ActionError, match=f"不属于本省（43）的问题线索（县 {COUNTY_C}、{COUNTY_C2}），不能发布。\n"
                                          "处理建议：确认输入的是本省数据后重新比对。"):
        publish_registered(env, admin, run_pk)
    # and a run whose manifest claims another province's counties resolves nothing here
    publish_registered(env, admin, _run(env, admin, tmp_path / "empty", "empty", other, coverage=cov,
                                        province=PROVINCE_2, edit=lambda t: t.slice(0, 0)))
    assert set(case_states(env).values()) == {"open"} and len(case_states(env)) == len(findings)


def test_a_run_with_a_duplicated_finding_key_is_refused_before_anything_is_written(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A)
    run_pk = _run(env, admin, tmp_path / "dup", "dup", findings, edit=lambda t: pa.concat_tables([t, t.slice(3, 1)]))
    dup = pq.read_table(tmp_path / "dup" / "findings.parquet")["code"][-1].as_py()
    # the refusal names the duplicated finding's code (never the key: it holds the child's ID) and the run
    with pytest.raises(ActionError, match=f"重复的问题编号（{dup} 等），不能发布：dup\n处理建议：重新运行比对；如仍重复请报告问题。"):
        publish_registered(env, admin, run_pk)
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.get(Run, run_pk).status == "complete"  # type: ignore[union-attr]


def test_resolving_more_than_the_threshold_needs_confirmation_and_the_preview_says_so_per_county(
        env: Env, tmp_path: Path) -> None:
    admin, findings = _province(env, tmp_path)
    cov = {"counties": [COUNTY_A, COUNTY_A2, COUNTY_B], "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    left = [f for f in fixture_findings(COUNTY_A) if f["code"] != "K01"]
    run_pk = _run(env, admin, tmp_path / "big", "big", left, coverage=cov)
    with session_scope(env.sessions()) as s:
        preview = preview_publish(s, run=s.get(Run, run_pk), threshold=10)
    n_b = sum(1 for f in findings if f["county"] == COUNTY_B)
    assert preview.result.counties[COUNTY_B] == {"opened": 0, "kept": 0, "reopened": 0, "resolved": n_b}
    assert preview.result.counties[COUNTY_A] == {"opened": 0, "kept": len(left), "reopened": 0, "resolved": 1}
    assert preview.needs_confirmation
    with session_scope(env.sessions()) as s:  # exactly the threshold is still fine
        assert not preview_publish(s, run=s.get(Run, run_pk), threshold=preview.result.resolved).needs_confirmation
    with pytest.raises(ActionError, match="超过需要确认的数量"):
        publish_registered(env, admin, run_pk, threshold=10)
    assert set(case_states(env).values()) == {"open"}
    result = publish_registered(env, admin, run_pk, threshold=10, confirm=True)
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
    publish_registered(env, admin, _run(env, admin, tmp_path / "autumn", "autumn", children, coverage=cov,
                              edit=lambda t: _retag(t, "2020秋")))
    cov = {"counties": [COUNTY_A], "tables": list(ALL_TABLES), "school_terms": ["2021春"], "aid_terms": ["2021春"]}
    publish_registered(env, admin, _run(env, admin, tmp_path / "spring", "spring", children, coverage=cov))
    with session_scope(env.sessions()) as s:
        earlier = {(c, st) for c, st in s.execute(select(Case.code, Case.state).where(Case.term == "2020秋"))}
    assert {state for code, state in earlier if code.startswith("Z")} == {"open"}  # 2020秋 payments not audited
    assert {state for code, state in earlier if code.startswith("K")} == {"resolved"}


def test_a_run_whose_coverage_names_another_provinces_county_leaves_that_provinces_cases_alone(
        env: Env, tmp_path: Path) -> None:
    """Two provinces on one server: a run of 43 can settle only 43's cases, whatever its manifest claims."""
    admin = make_user(env, "admin", "province_admin", "43")
    admin_36 = make_user(env, "admin36", "province_admin", PROVINCE_2)
    home, other = publish_two_provinces(env, admin, admin_36, tmp_path)
    jiangxi = {k for k, st in case_states(env).items() if k.split("|")[-1].startswith(PROVINCE_2)}
    assert jiangxi and all(case_states(env)[k] == "open" for k in jiangxi)
    # 43's registry held a stray row of a county of 36: its coverage names that county
    cov = {"counties": [COUNTY_A, COUNTY_C], "tables": list(ALL_TABLES), "school_terms": ["2021春"],
           "aid_terms": ["2021春"]}
    result = publish_registered(env, admin, _run(env, admin, tmp_path / "stray", "stray",
                                                 fixture_findings(COUNTY_A), coverage=cov))
    states = case_states(env)
    assert {k for k, st in states.items() if st != "open"} == set()  # COUNTY_A's findings are all still there
    assert all(states[k] == "open" for k in jiangxi) and COUNTY_C not in result.counties


def test_a_run_larger_than_one_chunk_matches_every_case_on_record(env: Env, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishing reads and writes a thousand findings at a time: with chunks of three, the second publish
    of the same findings still finds each case on record (none opened twice, none resolved)."""
    from yidan.store import publish

    monkeypatch.setattr(publish, "CHUNK", 3)
    admin = make_user(env, "admin", "province_admin", "43")
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B)
    _, first = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    _, second = publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2", findings=findings)
    assert (first.opened, second.opened, second.kept, second.resolved) == (len(findings), 0, len(findings), 0)
    assert set(case_states(env)) == {f["finding_key"] for f in findings}


# A refusal names at most five counties, and says how many there are when it leaves some out.
LISTED = [
    ([], ""),
    (["430102", "430101"], "430101、430102"),
    (["5", "4", "3", "2", "1"], "1、2、3、4、5"),
    (["6", "5", "4", "3", "2", "1"], "1、2、3、4、5 等 6 个"),
]


@pytest.mark.parametrize(("names", "text"), LISTED)
def test_a_refusal_names_five_counties_and_counts_the_rest(names: list[str], text: str) -> None:
    assert listed(names) == text
