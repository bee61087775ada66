"""Honest 回头看: a requested aid term without its own enrollment snapshot stops `yidan run` with a
Chinese error, unless `--allow-missing-terms`; then the CLI summary, the workbook cover sheet and
the run's coverage (what the web run page shows) name the term that was not audited and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from conftest import run_yidan
from yidan.runs.rundir import RunDir
from yidan.services.generated import generated_run


def _args(data: Path, out: Path) -> list[str]:
    plan = generated_run(data)
    args = ["run", "--term", plan.term.label, "--out", str(out), "--audit-terms", "2020春..2021春"]
    for table in ("registry", "enrollment", "out_of_province", "verifications", "aid", "policies"):
        for p in getattr(plan.inputs, table):
            args += [f"--{table.replace('_', '-')}", str(p)]
    return args


def test_a_requested_term_without_enrollment_stops_the_run_in_chinese(tiny_dataset: Any, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, screen = run_yidan(monkeypatch, capsys, _args(Path(tiny_dataset.out), tmp_path / "run"))
    assert code != 0
    assert "资助核查学期 2020春 没有学籍数据" in screen and "--allow-missing-terms" in screen
    assert "Traceback" not in screen


def test_allowed_missing_terms_are_named_on_screen_on_the_cover_and_in_the_run_coverage(
        tiny_dataset: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, screen = run_yidan(monkeypatch, capsys, [*_args(Path(tiny_dataset.out), out), "--allow-missing-terms"])
    assert code == 0, screen
    assert "资助学期 2020春 未核查：学籍文件中没有该学期的学籍快照" in screen
    run = RunDir(out)
    assert run.manifest["coverage"]["aid_terms"] == ["2020秋", "2021春"]
    # the web run page reads the run's stored totals (the manifest's `totals`)
    assert list(run.manifest["totals"]["aid_terms_not_audited"]) == ["2020春"]
    code, screen = run_yidan(monkeypatch, capsys, ["report", str(out), "--out", str(tmp_path / "books"),
                                                    "--no-charts"])
    assert code == 0, screen
    book = next((tmp_path / "books").glob("*433127*.xlsx"))
    cover = openpyxl.load_workbook(book, read_only=True).worksheets[0]
    rows = [[c for c in r if c] for r in cover.iter_rows(values_only=True)]
    assert ["资助学期 2020春 未核查", "学籍文件中没有该学期的学籍快照（回头看只按该学期自己的学籍判断）"] in rows
