"""The comparison run as a user sees it: the run directory, its manifest, reruns and failures."""

from __future__ import annotations

import json
import sys

import pytest

from yidan.errors import RunError
from yidan.pipeline.context import Step
from yidan.runs import RunDir

CONTRACT_PERSON_COLUMNS = [
    "person_id", "name", "gender", "birth_date", "age", "hukou_county", "category", "compulsory_age", "status",
    "status_label", "match_method", "match_probability", "student_no", "school_code", "school_county", "stage",
    "grade", "boarding",
]
FINDING_COLUMNS = [
    "finding_key", "code", "label", "person_id", "name", "term", "programme_code", "county", "township", "village",
    "school_code", "amount_expected", "amount_paid", "detail", "evidence",
]


def _boom(ctx):
    raise ValueError("磁盘已满")


def _interrupt(ctx):
    raise KeyboardInterrupt


def test_run_directory_holds_every_output_with_contract_columns(rule_case_runner, classify_case_named):
    run = rule_case_runner(classify_case_named("verified_statuses"))
    assert run.complete
    for name in ("rejects", "persons", "links", "findings", "summary"):
        assert run.parquet_path(name).is_file()
    assert set(CONTRACT_PERSON_COLUMNS) <= set(run.persons().column_names)
    assert set(FINDING_COLUMNS) <= set(run.findings().column_names)
    assert run.persons()["status_label"].to_pylist().count("因残因病免缓学") == 3


def test_manifest_records_term_timings_and_totals_by_status_and_code(rule_case_runner, classify_case_named):
    run = rule_case_runner(classify_case_named("enrollment_suspended_dropped_deceased"))
    m = run.manifest
    assert m["status"] == "complete" and m["term"] == "2021春"
    assert {"load", "persons_base", "classify", "findings", "summary", "write"} <= set(m["timings"])
    # where a stage's time went: every table it built, by name
    assert {"registry", "enrollment", "reg_persons", "links", "findings"} <= set(m["table_timings"])
    # a table's time is part of its stage's: the tables the load built took no longer than the load
    assert m["table_timings"]["registry"] + m["table_timings"]["enrollment"] <= m["timings"]["load"] + 0.002
    assert m["totals"]["by_status"] == {"DECEASED": 1, "DROPPED_OUT": 1, "SUSPENDED": 1}
    assert m["totals"]["by_finding"] == {"K02": 1}
    assert m["config_hash"] and m["run_id"]


def test_same_inputs_give_byte_identical_outputs(rule_case_runner, classify_case_named, tmp_path):
    case = classify_case_named("verified_out_of_province_unconfirmed")
    a = rule_case_runner(case, out=tmp_path / "a", input_dir=tmp_path / "in")
    b = rule_case_runner(case, out=tmp_path / "b", input_dir=tmp_path / "in")
    for name in ("rejects", "persons", "links", "findings", "summary"):
        assert a.parquet_path(name).read_bytes() == b.parquet_path(name).read_bytes(), name
    strip = ("run_id", "started_at", "finished_at", "timings", "table_timings")
    ma = {k: v for k, v in a.manifest.items() if k not in strip}
    mb = {k: v for k, v in b.manifest.items() if k not in strip}
    assert ma == mb


def test_failed_run_is_marked_failed_and_never_complete(rule_case_runner, classify_case_named, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RunError, match="磁盘已满"):
        rule_case_runner(classify_case_named("unmatched"), out=out, extra_steps=(Step("x", "出错的步骤", _boom),))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed"
    assert "磁盘已满" in manifest["error"]
    assert not RunDir(out).complete


def test_interrupted_run_leaves_no_complete_directory_and_a_rerun_works(rule_case_runner, classify_case_named,
                                                                         tmp_path):
    out = tmp_path / "run"
    case = classify_case_named("unmatched")
    with pytest.raises(KeyboardInterrupt):
        rule_case_runner(case, out=out, extra_steps=(Step("x", "中断", _interrupt),))
    assert RunDir(out).manifest["status"] == "failed"
    # a run killed outright leaves only its hidden temporary directory, which says running
    stale = tmp_path / ".run.tmp-19990101T000000-1"
    stale.mkdir()
    (stale / "manifest.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    run = rule_case_runner(case, out=out)
    assert run.complete
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_failed_rerun_keeps_the_earlier_complete_run(rule_case_runner, classify_case_named, tmp_path):
    out = tmp_path / "run"
    case = classify_case_named("unmatched")
    first = rule_case_runner(case, out=out)
    run_id = first.run_id
    with pytest.raises(RunError):
        rule_case_runner(case, out=out, extra_steps=(Step("x", "出错的步骤", _boom),))
    again = RunDir(out)
    assert again.complete and again.run_id == run_id
    assert RunDir(tmp_path / "run.failed").manifest["status"] == "failed"


def test_missing_input_file_is_a_chinese_error_without_traceback(tmp_path, monkeypatch, capsys):
    from yidan.cli import main

    monkeypatch.setattr(sys, "argv", [
        "yidan", "run", "--term", "2021春", "--registry", str(tmp_path / "无此文件.csv"),
        "--enrollment", str(tmp_path / "e.csv"), "--out", str(tmp_path / "out"),
    ])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "找不到输入文件" in err and "无此文件.csv" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unknown_term_is_refused_with_the_accepted_forms(tmp_path, monkeypatch, capsys):
    from yidan.cli import main

    monkeypatch.setattr(sys, "argv", [
        "yidan", "run", "--term", "2021夏", "--registry", "r.csv", "--enrollment", "e.csv", "--out", str(tmp_path),
    ])
    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err
    assert "无法识别的学期" in err and "2021春" in err


def test_init_writes_a_config_that_loads_as_the_documented_defaults(tmp_path, monkeypatch, capsys):
    from yidan.cli import main
    from yidan.settings import RunConfig, load_run_config

    monkeypatch.setattr(sys, "argv", ["yidan", "init", str(tmp_path / "cfg")])
    main()
    cfg = tmp_path / "cfg" / "yidan.toml"
    assert load_run_config(cfg) == RunConfig()
    text = cfg.read_text(encoding="utf-8")
    assert "义务教育年龄" in text and "memory_limit" in text and "temp_directory" in text
    assert (tmp_path / "cfg" / "policies_example.csv").is_file()


def test_init_refuses_to_overwrite_an_existing_config(tmp_path, monkeypatch, capsys):
    from yidan.cli import main

    (tmp_path / "yidan.toml").write_text("province_code = '44'\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["yidan", "init", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "已存在" in capsys.readouterr().err
    assert "44" in (tmp_path / "yidan.toml").read_text(encoding="utf-8")


def test_run_command_writes_the_run_and_prints_counts_in_chinese(classify_case_named, case_files, tmp_path,
                                                                 monkeypatch, capsys):
    from yidan.cli import main

    files = case_files(classify_case_named("verified_out_of_province_unconfirmed"), tmp_path / "in")
    monkeypatch.setattr(sys, "argv", [
        "yidan", "run", "--term", "2021春", "--registry", str(files["registry"][0]),
        "--enrollment", str(files["enrollment"][0]), "--verifications", str(files["verifications"][0]),
        "--out-of-province", str(files["out_of_province"][0]), "--out", str(tmp_path / "out"),
    ])
    main()
    out = capsys.readouterr().out
    assert "比对完成" in out and "省外就读" in out and "K04" in out and "省外就读待核实" in out
    run = RunDir(tmp_path / "out")
    assert run.complete
    assert [i["table"] for i in run.manifest["inputs"]] == ["registry", "enrollment", "out_of_province",
                                                            "verifications"]
    assert all(i["read"] == i["loaded"] + i["rejected"] for i in run.manifest["inputs"])


def test_generated_run_accounts_for_every_input_row(tiny_run, tiny_dataset):
    m = tiny_run.manifest
    assert m["status"] == "complete"
    assert {i["table"] for i in m["inputs"]} >= {"registry", "enrollment", "aid", "policies"}
    for i in m["inputs"]:
        assert i["read"] == i["loaded"] + i["rejected"], i
        assert len(i["sha256"]) == 64
    rejects = tiny_run.rejects()
    assert rejects.num_rows >= sum(i["rejected"] for i in m["inputs"]) > 0
    assert all(r for r in rejects["reason"].to_pylist())


def test_generated_run_lists_schooling_and_aid_findings_by_household_county(tiny_run, tiny_dataset):
    findings = tiny_run.findings().to_pylist()
    families = {f["family"] for f in findings}
    assert {"schooling", "aid"} <= families
    persons = {p["person_id"]: p for p in tiny_run.persons().to_pylist()}
    for f in findings:
        if f["code"].startswith("K"):
            assert f["county"] == persons[f["person_id"]]["hukou_county"]
            assert f["finding_key"] == f"{f['code']}|{f['term']}|-|{f['person_id']}"
    summary = tiny_run.summary().to_pylist()
    by_status = sum(r["count"] for r in summary if r["dimension"] == "status")
    assert by_status == len(persons)
    assert sum(r["count"] for r in summary if r["dimension"] == "finding") == len(findings)
    assert any(r["dimension"] == "aid" for r in summary)


def test_a_missing_aid_audit_fails_the_run_instead_of_leaving_the_audit_out(monkeypatch, classify_case_named,
                                                                            case_files, exact_link_steps, tmp_path):
    from pathlib import Path

    from yidan.identity.terms import parse_term
    from yidan.pipeline import steps as S
    from yidan.pipeline.context import RunInputs
    from yidan.pipeline.run import run_comparison
    from yidan.settings import RunConfig

    monkeypatch.setitem(sys.modules, "yidan.pipeline.audit", None)  # a build without the audit module
    audit = S._audit_steps()
    files = case_files(classify_case_named("unmatched"), tmp_path / "in")
    aid = Path(__file__).parent / "fixtures" / "outdir" / "aid.csv"
    inputs = RunInputs(registry=files["registry"], enrollment=files["enrollment"], aid=[aid])
    out = tmp_path / "run"
    with pytest.raises(RunError, match="缺少资助核查模块") as exc:
        run_comparison(inputs, term=parse_term("2021春"), out_dir=out, config=RunConfig(),
                       steps=(S.LOAD, S.PERSONS, *exact_link_steps, S.CLASSIFY, *audit, S.FINDINGS, S.SUMMARY))
    assert "--aid" in exc.value.hint
    manifest = RunDir(out).manifest
    assert manifest["status"] == "failed" and "缺少资助核查模块" in manifest["error"]


def test_a_failed_rerun_replaces_an_earlier_failed_run_so_the_folder_shows_the_latest_reason(
        rule_case_runner, classify_case_named, tmp_path):
    out = tmp_path / "run"
    case = classify_case_named("unmatched")
    with pytest.raises(RunError):
        rule_case_runner(case, out=out, extra_steps=(Step("x", "出错的步骤", _boom),))

    def other(ctx):
        raise ValueError("另一个原因")

    with pytest.raises(RunError):
        rule_case_runner(case, out=out, extra_steps=(Step("y", "出错的步骤", other),))
    manifest = RunDir(out).manifest
    assert manifest["status"] == "failed" and "另一个原因" in manifest["error"]
    assert not (tmp_path / "run.failed").exists()
