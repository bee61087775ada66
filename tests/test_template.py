"""The XLSX templates: a header users recognise, a note per column, dropdowns, IDs kept as text,
and a filled-in template imports as it is."""

import duckdb
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from yidan.contract import TABLES, Kind
from yidan.ingest import load_table
from yidan.ingest.template import column_note, template_name, write_templates


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    out = tmp_path_factory.mktemp("templates")
    paths = write_templates(out)
    return {p.name: p for p in paths}


def test_one_template_is_written_per_input_table(templates):
    assert sorted(templates) == sorted(template_name(t) for t in TABLES.values())
    # the names a user finds in the folder, spelled out (template_name() alone would agree with itself)
    assert {"registry-建档立卡人口.xlsx", "enrollment-学籍.xlsx", "aid-资助发放.xlsx",
            "verifications-核实结果.xlsx"} <= set(templates) and len(templates) == len(TABLES)


def test_the_registry_template_notes_say_required_what_and_an_example(templates):
    notes = [c.value for c in openpyxl.load_workbook(templates["registry-建档立卡人口.xlsx"]).active[2]]
    assert notes[0].startswith("必填；18位居民身份证号") and "例：430124200903150011" in notes[0]
    assert notes[2] == "选填；男/女；为空时由身份证号推出"


@pytest.mark.parametrize("table", list(TABLES))
def test_template_has_the_chinese_header_and_a_note_for_every_column(templates, table):
    spec = TABLES[table]
    sheet = openpyxl.load_workbook(templates[template_name(spec)]).active
    headers = [c.value for c in sheet[3]]
    notes = [c.value for c in sheet[2]]
    assert headers == [c.header for c in spec.columns]
    assert notes == [column_note(c) for c in spec.columns]
    assert all(n.startswith("必填" if c.required else "选填") for n, c in zip(notes, spec.columns, strict=True))
    assert sheet.freeze_panes == "A4"


@pytest.mark.parametrize("table", list(TABLES))
def test_coded_columns_have_a_dropdown_with_the_allowed_values(templates, table):
    spec = TABLES[table]
    sheet = openpyxl.load_workbook(templates[template_name(spec)]).active
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in sheet.data_validations.dataValidation
             if dv.type == "list"}
    for i, col in enumerate(spec.columns, start=1):
        cell = f"{get_column_letter(i)}4"
        if col.kind is Kind.ENUM:
            assert lists[cell] == '"' + ",".join(col.allowed) + '"'
        else:
            assert cell not in lists


def column_format(sheet, index):
    """The number format of a column; adjacent columns with one format are stored as one range."""
    for dim in sheet.column_dimensions.values():
        if dim.min <= index <= dim.max:
            return dim.number_format
    return "General"


@pytest.mark.parametrize("table", list(TABLES))
def test_id_and_code_columns_are_formatted_as_text(templates, table):
    spec = TABLES[table]
    sheet = openpyxl.load_workbook(templates[template_name(spec)]).active
    for i, col in enumerate(spec.columns, start=1):
        fmt = column_format(sheet, i)
        assert (fmt == "@") == col.is_text_in_excel, col.header


def test_a_filled_in_template_imports_from_row_four(templates, tmp_path):
    path = tmp_path / "filled.xlsx"
    book = openpyxl.load_workbook(templates[template_name(TABLES["verifications"])])
    sheet = book.active
    sheet.append(["430124200903150011", "张三", "失联", None, "2021-03-10", "李老师", None])
    sheet.append(["430124201006200028", "李四", "省外就读", "广东省", "2021/3/11", None, None])
    book.save(path)
    con = duckdb.connect()
    result = load_table(con, "verifications", [path])
    assert con.execute("SELECT _row, name, conclusion FROM verifications ORDER BY _row").fetchall() == [
        (4, "张三", "失联"), (5, "李四", "省外就读")]
    assert result.files[0].rejected == 0
