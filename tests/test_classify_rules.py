"""Each file in tests/rules/classify/ is one case: input rows and, per child, the expected status and
findings. The real pipeline runs on it; a domain expert adds a case without reading Python."""

from __future__ import annotations

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
        for key in ("stage", "match_method"):
            if key in exp:
                assert got[key] == exp[key], f"{exp['person']}: {key} {got[key]}, expected {exp[key]}"


def test_every_schooling_finding_says_what_to_do_in_chinese(classified_cases):
    f = next(iter(classified_cases.values())).findings()
    assert set(f["code"].to_pylist()) >= {"K01", "K02", "K03", "K04", "K05", "K06", "K07", "K08", "K09"}
    assert pc.all(pc.match_substring(f["detail"], "请")).as_py()
    assert pc.all(pc.match_substring(f["evidence"], "\"registry\":{")).as_py()  # the 建档立卡 record


def test_cases_sharing_a_run_do_not_collide(classified_cases, all_classify_cases):
    for run in {id(r): r for r in classified_cases.values()}.values():
        cases = [c for c in all_classify_cases if classified_cases[c.path.stem] is run]
        expected = sum(1 for c in cases for e in c.data["expect"] if not e.get("absent"))
        assert run.persons().num_rows == expected
