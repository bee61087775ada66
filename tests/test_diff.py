"""`yidan diff OLD NEW`: what changed for children and findings between two runs."""

from __future__ import annotations

import sys

import pytest
from openpyxl import load_workbook

from yidan.runs.diff import diff_runs, write_diff_xlsx

PEOPLE = """
[[registry]]
name = "返校生"
birth_date = 2009-01-01
[[registry]]
name = "再辍学"
birth_date = 2009-02-01
[[registry]]
name = "新辍学"
birth_date = 2009-03-01
[[registry]]
name = "一直在读"
birth_date = 2009-04-01
"""

OLD = PEOPLE + """
[[enrollment]]
person = "返校生"
enrollment_status = "辍学"
[[enrollment]]
person = "再辍学"
[[verifications]]
person = "再辍学"
conclusion = "已劝返复学"
[[enrollment]]
person = "新辍学"
[[enrollment]]
person = "一直在读"
"""

NEW = PEOPLE + """
[[enrollment]]
person = "返校生"
[[enrollment]]
person = "再辍学"
enrollment_status = "辍学"
[[enrollment]]
person = "新辍学"
enrollment_status = "辍学"
[[enrollment]]
person = "一直在读"
"""


@pytest.fixture(scope="module")
def two_runs(module_case_runner, case_from_text, tmp_path_factory):
    base = tmp_path_factory.mktemp("diff")
    old = module_case_runner(case_from_text("old", OLD), out=base / "old")
    new = module_case_runner(case_from_text("new", NEW), out=base / "new")
    return old, new


def _names(table):
    return sorted(table["name"].to_pylist())


def test_diff_tells_dropouts_returns_and_dropouts_after_a_return(two_runs):
    d = diff_runs(*two_runs)
    assert _names(d.returned) == ["返校生"]
    assert _names(d.dropped_again) == ["再辍学"]
    assert _names(d.newly_dropped) == ["新辍学"]


def test_findings_are_opened_and_closed_by_their_stable_key(two_runs):
    d = diff_runs(*two_runs)
    assert sorted(zip(d.opened["code"].to_pylist(), d.opened["name"].to_pylist(), strict=True)) == [
        ("K02", "再辍学"), ("K02", "新辍学")
    ]
    assert list(zip(d.closed["code"].to_pylist(), d.closed["name"].to_pylist(), strict=True)) == [("K02", "返校生")]


def test_a_run_compared_with_itself_shows_no_change(two_runs):
    old, _ = two_runs
    assert set(diff_runs(old, old).counts().values()) == {0}


def test_diff_workbook_has_a_chinese_sheet_per_change(two_runs, tmp_path):
    path = write_diff_xlsx(diff_runs(*two_runs), tmp_path / "变化.xlsx")
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["概要", "新增辍学", "复学", "复学后再次辍学", "新增问题", "已销号问题"]
    rows = list(wb["复学"].iter_rows(values_only=True))
    assert rows[0][:2] == ("身份证号", "姓名")
    assert rows[1][1] == "返校生"
    summary = dict(r[:2] for r in wb["概要"].iter_rows(min_row=2, values_only=True))
    assert summary["新增问题"] == 2 and summary["已销号问题"] == 1
    wb.close()


def test_diff_command_prints_changes_in_chinese_and_writes_the_workbook(two_runs, tmp_path, monkeypatch, capsys):
    from yidan.cli import main

    old, new = two_runs
    monkeypatch.setattr(sys, "argv", ["yidan", "diff", str(old.path), str(new.path)])
    main()
    out = capsys.readouterr().out
    assert "复学后再次辍学" in out and "再辍学" in out
    assert (new.path / "diff.xlsx").is_file()


def test_diff_refuses_a_directory_that_is_not_a_run(tmp_path, two_runs, monkeypatch, capsys):
    from yidan.cli import main

    monkeypatch.setattr(sys, "argv", ["yidan", "diff", str(tmp_path), str(two_runs[1].path)])
    with pytest.raises(SystemExit):
        main()
    assert "不是比对结果目录" in capsys.readouterr().err


CROSS_TERM = """
[[registry]]
name = "仍未入学"
birth_date = 2010-05-05
[[registry]]
name = "已入学"
birth_date = 2010-06-06
"""


def test_a_problem_that_persists_into_the_next_term_is_neither_closed_nor_opened(module_case_runner,
                                                                                 case_from_text, tmp_path):
    autumn = case_from_text("autumn", 'term = "2020秋"\n' + CROSS_TERM)
    spring = case_from_text("spring", 'term = "2021春"\n' + CROSS_TERM + """
[[enrollment]]
person = "已入学"
""")
    d = diff_runs(module_case_runner(autumn, out=tmp_path / "autumn"),
                  module_case_runner(spring, out=tmp_path / "spring"))
    assert d.opened.num_rows == 0
    assert list(zip(d.closed["code"].to_pylist(), d.closed["name"].to_pylist(), strict=True)) == [("K01", "已入学")]
