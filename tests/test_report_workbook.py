"""County, city and province workbooks, opened the way a user's Excel would (openpyxl)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from reports_fixtures import COUNTIES, build_run
from yidan.contract.codes import FINDING_CODES, STATUSES, conclusions_for
from yidan.errors import YidanError
from yidan.reports import write_workbooks
from yidan.reports.styles import FINDING_COLUMNS, sheet_columns

HEADERS = [c.header for c in FINDING_COLUMNS]
SHEETS = {"控辍保学": "schooling", "学生资助": "aid", "数据质量": "quality"}
STATUS_ROWS = ["在校", "送教上门", "休学", "辍学", "学籍接转中", "省外就读", "已完成义务教育", "因残因病免缓学",
               "小学毕业未升学", "出国(境)", "死亡", "疑似匹配待确认", "学籍未匹配", "未入园", "非义务教育阶段未在校"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def county_books(run, tmp_path_factory):
    return write_workbooks(run, tmp_path_factory.mktemp("books"), "county")


def _book(paths: list[Path], county: str) -> openpyxl.Workbook:
    (path,) = [p for p in paths if p.name.startswith(county)]
    return openpyxl.load_workbook(path)


def _cover_values(ws) -> dict[str, list]:
    return {row[0]: list(row[1:]) for row in ws.iter_rows(values_only=True) if row and row[0]}


def test_one_workbook_per_county_named_with_county_and_term(county_books):
    names = sorted(p.name for p in county_books)
    assert names == ["430102_芙蓉区_一单_2021春.xlsx", "430121_长沙县_一单_2021春.xlsx", "430302_雨湖区_一单_2021春.xlsx"]


def test_county_workbook_has_cover_one_sheet_per_family_and_a_very_hidden_key_sheet(county_books):
    wb = _book(county_books, "430121")
    assert wb.sheetnames == ["封面", "控辍保学", "学生资助", "数据质量", "分乡镇村统计", "_yidan"]
    assert wb["_yidan"].sheet_state == "veryHidden"
    meta = {r[0]: r[1] for r in wb["_yidan"].iter_rows(values_only=True)}
    assert meta["region"] == "430121" and meta["run_id"] == "R2021春-1" and meta["level"] == "county"


def test_finding_sheets_have_chinese_headers_frozen_row_and_filter(county_books):
    ws = _book(county_books, "430102")["学生资助"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.freeze_panes == "C2"
    last = openpyxl.utils.get_column_letter(len(HEADERS))
    assert ws.auto_filter.ref == f"A1:{last}{ws.max_row}"


def test_id_numbers_and_codes_are_text_and_columns_fit_them(county_books):
    ws = _book(county_books, "430102")["控辍保学"]
    col = {h: openpyxl.utils.get_column_letter(i + 1) for i, h in enumerate(HEADERS)}
    ids = [ws[f"{col['身份证号']}{r}"] for r in range(2, ws.max_row + 1)]
    assert ids and all(isinstance(c.value, str) and len(c.value) == 18 and c.number_format == "@" for c in ids)
    assert ws.column_dimensions[col["身份证号"]].width >= 18
    assert all(isinstance(ws[f"{col['年龄']}{r}"].value, str) for r in range(2, ws.max_row + 1))


def test_clerk_columns_are_unlocked_and_everything_else_is_protected(county_books):
    book = _book(county_books, "430302")
    clerk = ("核实结论", "就读省份", "核实日期", "核实人", "说明")
    # the aid sheet has its own columns for what an aid conclusion needs (amount, date, voucher …), last
    aid_own = ("补发或追回金额", "补发或追回日期", "凭证号", "政策依据", "错误的字段")
    for sheet, family, typed in (("控辍保学", "schooling", clerk), ("学生资助", "aid", clerk + aid_own)):
        ws = book[sheet]
        headers = [c.header for c in sheet_columns(family)]
        assert [c.value for c in ws[1]] == headers and (sheet == "学生资助") == (headers[-5:] == list(aid_own))
        assert ws.protection.sheet
        for row in ws.iter_rows(min_row=2, max_row=ws.max_row):
            for header, cell in zip(headers, row, strict=True):
                assert cell.protection.locked is not (header in typed), (header, cell.coordinate)


def _offered(ws) -> dict[int, list[str]]:
    """Row number -> the conclusions its drop-down list offers."""
    offered: dict[int, list[str]] = {}
    for dv in (d for d in ws.data_validations.dataValidation if d.type == "list"):
        for rng in str(dv.sqref).split():
            first, _, last = rng.partition(":")
            lo, hi = int(first.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")), int((last or first).lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            for r in range(lo, hi + 1):
                offered[r] = dv.formula1.strip('"').split(",")
    return offered


def test_conclusion_column_offers_each_rows_own_conclusions_as_a_dropdown(county_books):
    seen: dict[str, list[str]] = {}
    for county in COUNTIES:
        wb = _book(county_books, county)
        for sheet in SHEETS:
            ws = wb[sheet]
            offered = _offered(ws)
            for r, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
                assert offered[r] == list(conclusions_for(row[1])), (sheet, r, row[1])
                seen.setdefault(row[1], offered[r])
    # the lists a clerk sees, spelled out (the comparison above alone would pass with a wrong mapping):
    # a 漏助 is closed by a 补发, a dropout by a 劝返 or a 确系辍学, never by a 补发 or a 追回
    assert seen["Z01"] == ["已补发", "情况属实无需处理", "数据错误", "其他"]
    assert seen["K01"] == ["省外就读", "因残免学", "因病缓学", "延缓入学", "送教上门", "已劝返复学", "出国", "超龄",
                           "死亡", "失联", "信息错误", "确系辍学", "其他"]
    assert "已追回" in conclusions_for("Z04") and "已补发" not in conclusions_for("Z04")


def test_hidden_key_column_holds_every_finding_of_the_county_exactly_once(run, county_books):
    findings = pq.read_table(run.parquet_path("findings")).to_pylist()
    for county in COUNTIES:
        wb = _book(county_books, county)
        keys = []
        for sheet, family in SHEETS.items():
            ws = wb[sheet]
            assert ws.column_dimensions["A"].hidden
            rows = list(ws.iter_rows(min_row=2, values_only=True))
            assert all(FINDING_CODES[r[1]].family == family for r in rows)
            keys += [r[0] for r in rows]
        expected = [f["finding_key"] for f in findings if f["county"] == county]
        assert Counter(keys) == Counter(expected)


def test_cover_figures_equal_the_runs_summary_and_findings(run, county_books):
    summary = pq.read_table(run.parquet_path("summary")).to_pylist()
    findings = pq.read_table(run.parquet_path("findings")).to_pylist()
    for county in COUNTIES:
        cover = _cover_values(_book(county_books, county)["封面"])
        assert cover["比对批次"][0] == "R2021春-1" and cover["学期"][0] == "2021春"
        # the status rows a reader sees, in the contract's order, spelled out (STATUSES alone would agree with itself)
        assert [k for k in cover if k in STATUS_ROWS] == STATUS_ROWS
        for code, label in STATUSES.items():
            expected = sum(s["count"] for s in summary
                           if s["dimension"] == "status" and s["county"] == county and s["key"] == code)
            assert cover[label][0] == expected, label
        mine = [f for f in findings if f["county"] == county]
        for code in FINDING_CODES:
            of_code = [f for f in mine if f["code"] == code]
            assert cover[code][2] == len(of_code), code
            assert cover[code][3] == pytest.approx(float(sum(f["amount_expected"] or 0 for f in of_code)))
            assert cover[code][4] == pytest.approx(float(sum(f["amount_paid"] or 0 for f in of_code)))
        assert cover["问题合计"][2] == len(mine)


def test_city_workbooks_aggregate_their_counties(run, tmp_path):
    paths = write_workbooks(run, tmp_path, "city")
    assert [p.name for p in paths] == ["430100_长沙市_一单_2021春.xlsx", "430300_湘潭市_一单_2021春.xlsx"]
    wb = openpyxl.load_workbook(paths[0])
    rows = list(wb["分县统计"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert [r[0] for r in body] == ["430102", "430121"]
    findings = pq.read_table(run.parquet_path("findings")).to_pylist()
    total = header.index("问题合计")
    for r in body:
        assert r[total] == sum(1 for f in findings if f["county"] == r[0])
    cover = _cover_values(wb["封面"])
    assert cover["问题合计"][2] == sum(r[total] for r in body)


def test_province_workbook_has_one_row_per_city(run, tmp_path):
    (path,) = write_workbooks(run, tmp_path, "province")
    rows = list(openpyxl.load_workbook(path)["分市州统计"].iter_rows(values_only=True))
    assert [(r[0], r[1]) for r in rows[1:]] == [("430100", "长沙市"), ("430300", "湘潭市")]
    persons = pq.read_table(run.parquet_path("persons")).num_rows
    assert sum(r[rows[0].index("学龄儿童合计")] for r in rows[1:]) == persons


def test_unknown_level_is_refused_with_a_chinese_message(run, tmp_path):
    with pytest.raises(YidanError, match="不支持的层级"):
        write_workbooks(run, tmp_path, "township")


def test_an_unfinished_run_is_refused(tmp_path):
    import json

    run = build_run(tmp_path / "run", n_per_county=2)
    manifest = json.loads((run.path / "manifest.json").read_text(encoding="utf-8"))
    (run.path / "manifest.json").write_text(json.dumps(manifest | {"status": "running"}), encoding="utf-8")
    from yidan.runs.rundir import RunDir

    with pytest.raises(YidanError, match="比对未完成"):
        write_workbooks(RunDir(run.path), tmp_path / "out")


def test_one_county_can_export_only_its_own_workbook(run, tmp_path):
    paths = write_workbooks(run, tmp_path, "county", regions=["430121"])
    assert [p.name for p in paths] == ["430121_长沙县_一单_2021春.xlsx"]
    assert [p.name for p in tmp_path.iterdir()] == ["430121_长沙县_一单_2021春.xlsx"]


def test_evidence_is_shown_as_readable_lines_not_json(county_books):
    ws = _book(county_books, "430102")["控辍保学"]
    col = {h: openpyxl.utils.get_column_letter(i + 1) for i, h in enumerate(HEADERS)}
    enrolled = 0
    for r in range(2, ws.max_row + 1):
        evidence, person_id, name = (ws[f"{col[h]}{r}"] for h in ("佐证", "身份证号", "姓名"))
        lines = evidence.value.splitlines()
        # the pipeline's evidence: the registry's record of the child, then the latest enrollment if any
        assert lines[0].startswith(f"建档立卡：身份证号 {person_id.value}，姓名 {name.value}，性别 "), lines
        assert evidence.alignment.wrap_text and not evidence.value.lstrip().startswith("{")
        if len(lines) > 1 and lines[1].startswith("最近学籍："):  # the ID inside the G number stays (county list)
            assert lines[1].startswith(f"最近学籍：全国学籍号 G{person_id.value}，学校 测试第"), lines
            enrolled += 1
    assert enrolled >= 4  # the dropped-out and transferred children of the county


def test_the_township_sheet_counts_children_and_findings_by_township_and_village_names(run, county_books):
    persons = [p for p in pq.read_table(run.parquet_path("persons")).to_pylist() if p["hukou_county"] == "430102"]
    findings = [f for f in pq.read_table(run.parquet_path("findings")).to_pylist() if f["county"] == "430102"]
    rows = list(_book(county_books, "430102")["分乡镇村统计"].iter_rows(values_only=True))
    assert rows[0][:3] == ("乡镇", "村", "学龄儿童")
    towns = {r[0]: r for r in rows[1:] if r[1] == "（乡镇合计）"}
    assert set(towns) == {"城关镇", "东山乡"}
    for name, row in towns.items():
        code = {p["hukou_township"] for p in persons if p["township_name"] == name}
        assert row[2] == sum(1 for p in persons if p["hukou_township"] in code)
        assert row[7] == sum(1 for f in findings if f["township"] in code and f["family"] == "schooling")
    village_rows = [r for r in rows[1:] if r[1] != "（乡镇合计）"]
    assert {r[1] for r in village_rows} <= {"桃源村", "杨柳村", "新华社区"}
    assert sum(r[2] for r in village_rows) == len(persons)
