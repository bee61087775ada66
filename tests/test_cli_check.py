"""`yidan check` and `yidan template` driven in-process, as a county data clerk would use them."""

import csv
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from yidan.cli import app

runner = CliRunner()
HEADER = "身份证号,姓名,户籍地区划代码,人员类别,认定日期"


def registry_csv(tmp_path, lines, encoding="gb18030"):
    path = tmp_path / "registry.csv"
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode(encoding))
    return path


def test_check_of_a_clean_file_says_every_row_is_usable_and_exits_zero(tmp_path):
    path = registry_csv(tmp_path, ["430124200903150011,张三,430124,建档立卡,2016-05-01"])
    result = runner.invoke(app, ["check", "--table", "registry", str(path)])
    assert result.exit_code == 0, result.output
    assert "全部 1 行可用" in result.output
    assert "gb18030" in result.output
    assert not (tmp_path / "registry.rejects.csv").exists()


def test_check_prints_counts_and_reasons_and_writes_rejects_as_csv_and_xlsx(tmp_path):
    path = registry_csv(tmp_path, [
        "430124200903150011,张三,430124,建档立卡,2016-05-01",
        "4.30124E+17,李四,430124,建档立卡,2016-05-01",
        "430124201101010038,王五,430124,低保,2016-05-01",
    ])
    out = tmp_path / "out" / "拒绝明细"
    result = runner.invoke(app, ["check", "-t", "registry", str(path), "--rejects", str(out)])
    assert result.exit_code == 1, result.output
    assert "最常见的拒绝原因" in result.output and "Excel" in result.output
    with open(tmp_path / "out" / "拒绝明细.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["行号"], r["列"]) for r in rows] == [("3", "身份证号"), ("4", "人员类别")]
    assert "是否想写「农村低保」" in rows[1]["原因"]
    sheet = openpyxl.load_workbook(tmp_path / "out" / "拒绝明细.xlsx").active
    assert [c.value for c in sheet[1]] == ["表", "文件", "行号", "列", "值", "原因"]
    assert sheet["E2"].value == "4.30124E+17" and sheet["C2"].value == 3


def test_check_without_rejects_option_writes_beside_the_input(tmp_path):
    path = registry_csv(tmp_path, ["4.30124E+17,李四,430124,建档立卡,2016-05-01"])
    result = runner.invoke(app, ["check", "-t", "registry", str(path)])
    assert result.exit_code == 1
    assert (tmp_path / "registry.rejects.csv").exists() and (tmp_path / "registry.rejects.xlsx").exists()


def test_check_of_a_file_missing_columns_prints_a_chinese_error_not_a_traceback(tmp_path):
    path = tmp_path / "registry.csv"
    path.write_text("身份证,姓名\n430124200903150011,张三\n", encoding="utf-8")
    result = runner.invoke(app, ["check", "-t", "registry", str(path)])
    assert result.exit_code == 2
    assert "错误" in result.output and "「身份证号」" in result.output and "处理建议" in result.output
    assert "Traceback" not in result.output


def test_check_of_an_unknown_table_suggests_the_right_name(tmp_path):
    path = registry_csv(tmp_path, [])
    result = runner.invoke(app, ["check", "-t", "registy", str(path)])
    assert result.exit_code == 2 and "registry" in result.output


def test_template_command_writes_one_workbook_per_table(tmp_path):
    result = runner.invoke(app, ["template", "--out", str(tmp_path / "tpl")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "tpl").glob("*.xlsx"))
    assert names == sorted(["registry", "enrollment", "out_of_province", "verifications", "aid", "policies",
                            "link_decisions", "targets", "schools", "classes", "population"])
    assert "已生成 11 个模板" in result.output


def test_check_writes_rejected_values_that_look_like_formulas_as_text(tmp_path):
    source = Path(__file__).parent / "fixtures" / "ingest" / "cases" / "registry__formula_values.csv"
    result = runner.invoke(app, ["check", "-t", "registry", str(source), "--rejects", str(tmp_path / "拒绝")])
    assert result.exit_code == 1, result.output
    with open(tmp_path / "拒绝.csv", encoding="utf-8-sig") as fh:
        values = [r["值"] for r in csv.DictReader(fh)]
    assert values == ["'=1+1", "'@SUM(A1)", "'+2016-05-01", "'-1"]
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*"))


def test_check_does_not_pass_a_semicolon_file_with_decimal_commas(tmp_path):
    source = Path(__file__).parent / "fixtures" / "ingest" / "cases" / "aid__semicolon_decimal_commas.csv"
    result = runner.invoke(app, ["check", "-t", "aid", str(source), "--rejects", str(tmp_path / "拒绝")])
    assert result.exit_code == 1, result.output
    with open(tmp_path / "拒绝.csv", encoding="utf-8-sig") as fh:
        amounts = [r for r in csv.DictReader(fh) if r["列"] == "金额"]
    assert [(r["行号"], r["值"]) for r in amounts] == [("2", "625,00"), ("3", "1.250,00"), ("4", "62,5")]
    assert all("金额格式不明确" in r["原因"] for r in amounts)
