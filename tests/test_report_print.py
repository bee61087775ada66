"""The county workbook on paper (issue 19): every list sheet prints landscape, one page wide, with the
header row on every page, a footer naming the county, the term, 第 N 页 共 M 页 and the time the list was
made, and a page break wherever the township changes, so each township's team takes its own pages.

The run is made by the real pipeline from input rows (web_fixtures); the print settings are read back
from the written file with openpyxl, as Excel, WPS or LibreOffice would read them."""

from __future__ import annotations

import openpyxl
import pytest

from web_fixtures import COUNTY_A, TERM, fixture_findings, write_run
from yidan.reports import write_workbooks

LIST_SHEETS = ("控辍保学", "学生资助", "数据质量", "分乡镇村统计")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    root = tmp_path_factory.mktemp("print")
    run = write_run(root / "run", run_id="print", findings=fixture_findings(COUNTY_A))
    (path,) = write_workbooks(run, root / "books", "county")
    return openpyxl.load_workbook(path)


@pytest.mark.parametrize("sheet", LIST_SHEETS)
def test_every_list_sheet_prints_landscape_one_page_wide_with_its_header_on_every_page(book, sheet: str) -> None:
    ws = book[sheet]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    # fitToWidth absent means 1 (the OOXML default, which XlsxWriter leaves out); 0 pages tall: as many as needed
    assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == "$1:$1"


@pytest.mark.parametrize("sheet", LIST_SHEETS)
def test_the_footer_names_the_county_the_term_the_page_of_pages_and_when_it_was_made(book, sheet: str) -> None:
    footer = book[sheet].oddFooter
    assert "宁乡" in footer.left.text and TERM in footer.left.text
    assert footer.center.text == "第 &P 页 共 &N 页"
    made = footer.right.text.removeprefix("制表时间：")
    assert made != footer.right.text and len(made) == 16 and made[:2] == "20"  # 2026-12-04 21:30


@pytest.mark.parametrize("sheet", ("控辍保学", "学生资助", "数据质量"))
def test_each_township_starts_on_its_own_page(book, sheet: str) -> None:
    children = {c["finding_key"]: c["township"] for c in fixture_findings(COUNTY_A)}
    ws = book[sheet]
    keys = [r[0] for r in ws.iter_rows(min_row=2, max_col=1, values_only=True) if r[0]]
    towns = [children[k] for k in keys]
    changes = [i + 2 for i in range(1, len(towns)) if towns[i] != towns[i - 1]]  # 1-based sheet rows
    # openpyxl gives a break's id as the last row before it
    assert changes and [b.id + 1 for b in ws.row_breaks.brk] == changes
    assert len(set(towns)) == len(changes) + 1  # each township's rows are together: one block each


def test_long_texts_wrap_in_columns_narrow_enough_for_the_page(book) -> None:
    ws = book["控辍保学"]
    headers = {c.value: c.column_letter for c in ws[1]}
    for header in ("问题说明", "佐证", "下一步"):
        letter = headers[header]
        assert ws.column_dimensions[letter].width <= 34
        assert ws[f"{letter}2"].alignment.wrap_text is True


def test_a_workbook_written_from_a_run_directory_says_why_its_team_column_is_empty(book) -> None:
    ws = book["控辍保学"]
    (cell,) = [c for c in ws[1] if c.value == "三帮一小组"]
    assert cell.comment is not None and "yidan report" in cell.comment.text and "为空" in cell.comment.text
    assert all(r[0] in (None, "") for r in ws.iter_rows(min_row=2, min_col=cell.column, max_col=cell.column,
                                                         values_only=True))
