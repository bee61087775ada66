"""Each file in tests/rules/classify/ is one case: input rows and, per child, the expected status and
findings. The real pipeline runs on it; a domain expert adds a case without reading Python."""

from __future__ import annotations

import pyarrow.compute as pc


def test_classify_case_gives_expected_status_and_findings(classify_case, rule_case_runner):
    run = rule_case_runner(classify_case)
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
        for key in ("student_no", "stage", "match_method"):
            if key in exp:
                assert got[key] == exp[key], f"{exp['person']}: {key} {got[key]}, expected {exp[key]}"


def test_every_finding_of_a_case_says_what_to_do_in_chinese(rule_case_runner, classify_case_named):
    run = rule_case_runner(classify_case_named("k07_two_active_enrollments"))
    f = run.findings()
    assert f.num_rows > 0
    assert pc.all(pc.match_substring(f["detail"], "请")).as_py()
