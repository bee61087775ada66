"""Spreadsheets as source systems export them: title rows, several sheets, IDs Excel made numbers."""

import datetime as dt

import duckdb
import pytest
import xlsxwriter

from yidan.errors import InputError
from yidan.ingest import load_table

HEADER = ["身份证号", "姓名", "户籍地区划代码", "人员类别", "认定日期"]


def workbook(path, sheets):
    """sheets: {name: [row, ...]} where a row is a list of cells (str, float, date or None)."""
    book = xlsxwriter.Workbook(str(path))
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                elif isinstance(value, float | int):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, value)
    book.close()
    return path


def load(path):
    con = duckdb.connect()
    result = load_table(con, "registry", [path])
    loaded = con.execute("SELECT _file, _row, name FROM registry ORDER BY _file, _row").fetchall()
    rejects = con.execute('SELECT file, row_number, "column", reason FROM rejects ORDER BY file, row_number'
                          ).fetchall()
    for f in result.files:
        assert f.read == f.loaded + f.rejected
    return result, loaded, rejects


def test_title_and_note_rows_above_the_header_are_skipped_and_rows_keep_excel_numbers(tmp_path):
    path = workbook(tmp_path / "registry.xlsx", {"名单": [
        ["长沙县建档立卡人口名单"],
        ["导出时间：2021-03-01", None, "单位：人"],
        HEADER,
        ["430124200903150011", "张三", "430124", "建档立卡", dt.date(2016, 5, 1)],
        [None, None, None, None, None],
        ["430124201006200028", "李四", "430124", "农村低保", "2016-05-01"],
    ]})
    result, loaded, rejects = load(path)
    assert [(r, n) for _, r, n in loaded] == [(4, "张三"), (6, "李四")]
    assert rejects == [] and result.files[0].read == 2


def test_an_id_excel_stored_as_a_number_is_rejected_as_mangled(tmp_path):
    path = workbook(tmp_path / "registry.xlsx", {"Sheet1": [
        HEADER,
        [430124200903150011.0, "张三", 430124.0, "建档立卡", dt.date(2016, 5, 1)],
        ["430124201006200028", "李四", 430124.0, "农村低保", 42491.0],
    ]})
    _, loaded, rejects = load(path)
    assert [(r, c) for _, r, c, _ in rejects] == [(2, "身份证号")]
    assert "Excel 转成了数字" in rejects[0][3]
    assert [(r, n) for _, r, n in loaded] == [(3, "李四")]


def test_every_sheet_with_a_header_is_read_and_others_are_skipped_with_a_note(tmp_path):
    path = workbook(tmp_path / "registry.xlsx", {
        "填表说明": [["请按要求填写"], ["身份证号须为18位"]],
        "长沙县": [HEADER, ["430124200903150011", "张三", "430124", "建档立卡", "2016-05-01"]],
        "浏阳市": [["浏阳市名单"], HEADER, ["430124201006200028", "李四", "430181", "农村低保", "2016-5-1"],
                  ["430124201101010038", "王五", "430181", "低保", "2016-05-01"]],
    })
    result, loaded, rejects = load(path)
    assert [(f, r, n) for f, r, n in loaded] == [(f"{path}#浏阳市", 3, "李四"), (f"{path}#长沙县", 2, "张三")]
    assert [(f, r, c) for f, r, c, _ in rejects] == [(f"{path}#浏阳市", 4, "人员类别")]
    assert (result.files[0].read, result.files[0].loaded, result.files[0].rejected) == (3, 2, 1)
    assert any("填表说明" in n for n in result.notes)


def test_a_sheet_missing_required_columns_names_them_all_at_once(tmp_path):
    path = workbook(tmp_path / "registry.xlsx", {"Sheet1": [["身份证号", "姓名", "区划代码"],
                                                            ["430124200903150011", "张三", "430124"]]})
    with pytest.raises(InputError) as err:
        load(path)
    assert "「户籍地区划代码」" in err.value.message and "「人员类别」" in err.value.message
    assert "「认定日期」" in err.value.message


def test_a_workbook_without_any_header_is_a_clear_error(tmp_path):
    path = workbook(tmp_path / "registry.xlsx", {"Sheet1": [["随便写的"], ["一些内容"]]})
    with pytest.raises(InputError, match="缺少"):
        load(path)


def test_a_file_that_is_not_a_workbook_is_a_clear_error(tmp_path):
    path = tmp_path / "registry.xlsx"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(InputError, match="无法打开"):
        load(path)
