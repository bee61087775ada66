"""The report commands, driven in-process as a user types them."""

from __future__ import annotations

import sys

import openpyxl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import yidan.cli
from reports_fixtures import COUNTIES, build_run
from yidan.cli.app import app

runner = CliRunner()


def flat(result) -> str:
    """The output without the line breaks Rich adds at the terminal width."""
    return result.output.replace("\n", "")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run", n_per_county=10)


def test_report_writes_county_workbooks_indicators_and_their_workbook(run, tmp_path):
    result = runner.invoke(app, ["report", str(run.path), "--out", str(tmp_path), "--no-charts"])
    assert result.exit_code == 0, result.output
    assert "已生成一单工作簿 3 份" in flat(result)
    assert len(list(tmp_path.glob("43*_一单_2021春.xlsx"))) == 3
    # the indicators cover the province, both cities and every county of the run
    regions = set(pq.read_table(tmp_path / "indicators.parquet")["region"].to_pylist())
    assert {"430000", "430100", "430300", *COUNTIES} <= regions
    book = openpyxl.load_workbook(tmp_path / "指标汇总_2021春.xlsx")
    assert book.sheetnames == ["全省", "分市州", "分县"]
    assert ("义务教育阶段在校率", "430000", "湖南省") in {r[:3] for r in book["全省"].iter_rows(values_only=True)}


def test_report_by_city_writes_one_workbook_per_city_and_charts(run, tmp_path):
    result = runner.invoke(app, ["report", str(run.path), "--out", str(tmp_path), "--level", "city"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name[:6] for p in tmp_path.glob("*_一单_*.xlsx")) == ["430100", "430300"]
    assert (tmp_path / "charts" / "children_by_status.svg").is_file()


def test_verify_import_prints_how_filled_rows_were_split(run, tmp_path):
    runner.invoke(app, ["report", str(run.path), "--out", str(tmp_path / "books"), "--no-charts"])
    (book,) = (tmp_path / "books").glob("430121_*.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["控辍保学"]
    ws["AB2"], ws["AD2"] = "失联", "2021-03-02"  # 核实结论, 核实日期
    ws["AB3"], ws["AD3"] = "不知道", "2021-03-02"
    wb.save(tmp_path / "back.xlsx")
    result = runner.invoke(app, ["verify-import", str(tmp_path / "back.xlsx"), "--run", str(run.path),
                                 "--out", str(tmp_path / "核实结果.xlsx")])
    assert result.exit_code == 0, result.output
    assert "已填写 2 行 = 接收 1 行 + 退回 1 行" in flat(result)
    assert "核实结果_退回.xlsx" in flat(result)


def test_sample_command_writes_the_sample_workbook(run, tmp_path):
    out = tmp_path / "样本.xlsx"
    result = runner.invoke(app, ["sample", str(run.path), "--size", "6", "--seed", "9", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "已抽取 6 人（3 层，种子 9）" in flat(result)
    assert openpyxl.load_workbook(out).sheetnames == ["抽样说明", "样本名单"]


def test_a_bad_level_ends_with_a_chinese_message_not_a_traceback(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["yidan", "report", str(run.path), "--out", str(tmp_path), "--level", "乡镇"])
    with pytest.raises(SystemExit) as exit_:
        yidan.cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "不支持的层级：乡镇" in err and "Traceback" not in err
