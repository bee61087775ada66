"""Each file in tests/rules/classify/ is one case: input rows and, per child, the expected status and
findings. The real pipeline runs on it; a domain expert adds a case without reading Python."""

from __future__ import annotations

import json

import pyarrow.compute as pc


def test_classify_case_gives_expected_status_and_findings(classify_case, classified_cases):
    run = classified_cases[classify_case.path.stem]
    persons = run.persons().to_pylist()
    findings = run.findings().to_pylist()
    by_id = {p["person_id"]: p for p in persons}
    assert classify_case.data.get("expect"), f"{classify_case.path.name}: no [[expect]] rows"
    for exp in classify_case.data["expect"]:
        pid = classify_case.ids[exp["person"]]
        if exp.get("absent"):
            assert pid not in by_id, f"{exp['person']} should be outside the school-age range"
            continue
        assert pid in by_id, f"{exp['person']} missing from persons.parquet"
        got = by_id[pid]
        assert got["status"] == exp["status"], f"{exp['person']}: status {got['status']}, expected {exp['status']}"
        codes = sorted(f["code"] for f in findings if f["person_id"] == pid)
        assert codes == sorted(exp.get("findings", [])), f"{exp['person']}: findings {codes}"
        if "student_no" in exp:
            assert got["student_no"] == classify_case.student_no(exp["student_no"])
        if "detail_contains" in exp:
            details = [f["detail"] for f in findings if f["person_id"] == pid]
            assert any(exp["detail_contains"] in d for d in details), details
        for key in ("stage", "match_method"):
            if key in exp:
                assert got[key] == exp[key], f"{exp['person']}: {key} {got[key]}, expected {exp[key]}"


def test_every_schooling_finding_says_what_to_do_in_chinese(classified_cases):
    f = next(iter(classified_cases.values())).findings()
    assert set(f["code"].to_pylist()) >= {"K01", "K02", "K03", "K04", "K05", "K06", "K07", "K08", "K09"}
    assert pc.all(pc.match_substring(f["detail"], "请")).as_py()
    # the evidence is JSON naming the registry child the finding is about (not just a heading)
    for row in f.to_pylist():
        child = json.loads(row["evidence"])["registry"]  # the 建档立卡 record (keys: contract/outputs.py)
        assert (child["person_id"], child["name"]) == (row["person_id"], row["name"]), row["finding_key"]


def test_cases_sharing_a_run_do_not_collide(classified_cases, all_classify_cases):
    for run in {id(r): r for r in classified_cases.values()}.values():
        cases = [c for c in all_classify_cases if classified_cases[c.path.stem] is run]
        expected = sum(1 for c in cases for e in c.data["expect"] if not e.get("absent"))
        assert run.persons().num_rows == expected


def test_a_birth_date_contradicting_the_id_says_which_date_the_age_was_taken_from(classified_cases):
    stem = "k08_registry_birth_date_contradicts_id"
    run = classified_cases[stem]
    case = {c.path.stem: c for c in _cases_of(classified_cases, run)}[stem]
    pid = case.ids["错年辍学"]
    k08 = [f for f in run.findings().to_pylist() if f["person_id"] == pid and f["code"] == "K08"]
    assert len(k08) == 1
    assert "2019-05-31" in k08[0]["detail"] and "2009-05-31" in k08[0]["detail"]
    assert "年龄按身份证号中的出生日期计算（11岁）" in k08[0]["detail"]
    person = next(p for p in run.persons().to_pylist() if p["person_id"] == pid)
    assert person["age"] == 11 and person["compulsory_age"]


def test_a_converted_15_digit_id_keeps_the_registry_birth_date_and_says_so(classified_cases):
    stem = "k08_legacy_15_digit_id"
    run = classified_cases[stem]
    case = {c.path.stem: c for c in _cases_of(classified_cases, run)}[stem]
    pid = case.ids["旧号儿童"]
    k08 = [f for f in run.findings().to_pylist() if f["person_id"] == pid and f["code"] == "K08"]
    assert len(k08) == 1
    assert "15位旧身份证号" in k08[0]["detail"] and "年龄按建档立卡出生日期计算" in k08[0]["detail"]
    person = next(p for p in run.persons().to_pylist() if p["person_id"] == pid)
    assert person["age"] == 11


def _cases_of(classified_cases, run):
    from conftest import CLASSIFY_CASES

    return [c for c in CLASSIFY_CASES if classified_cases[c.path.stem] is run]
