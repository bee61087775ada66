"""Returned county workbooks: every filled row is accepted or comes back with its reason."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from reports_fixtures import build_run
from yidan.cli.app import app
from yidan.contract.verifications import VERIFICATIONS
from yidan.errors import InputError
from yidan.reports import import_verifications, write_workbooks
from yidan.reports.styles import FINDING_COLUMNS

COL = {c.header: openpyxl.utils.get_column_letter(i + 1) for i, c in enumerate(FINDING_COLUMNS)}
GOOD = {"核实结论": "失联", "核实日期": dt.datetime(2021, 3, 10), "核实人": "李老师", "说明": "三帮一走访"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def books(run, tmp_path_factory):
    """Exported once; each test types into its own copy (see fill)."""
    return {p.name[:6]: p for p in write_workbooks(run, tmp_path_factory.mktemp("books"))}


def fill(path: Path, sheet: str, rows: dict[int, dict[str, object]], out: Path) -> Path:
    """Type into a workbook the way a clerk does: by header, row by row, then save a copy."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    for row, cells in rows.items():
        for header, value in cells.items():
            ws[f"{COL[header]}{row}"] = value
    wb.save(out)
    return out


def read_rows(path: Path) -> list[dict]:
    ws = openpyxl.load_workbook(path).active
    header, *body = list(ws.iter_rows(values_only=True))
    return [dict(zip(header, r, strict=True)) for r in body]


def cell(path: Path, sheet: str, header: str, row: int):
    return openpyxl.load_workbook(path)[sheet][f"{COL[header]}{row}"].value


WRONG = [
    ({"核实结论": "失连", "核实日期": "2021-03-10"}, "核实结论「失连」不是可选结论，是否应为「失联」？"),
    ({"核实日期": "2021-03-10", "核实人": "王"}, "未填写核实结论"),
    ({"核实结论": "出国"}, "未填写核实日期"),
    ({"核实结论": "出国", "核实日期": "三月十日"}, "核实日期「三月十日」无法识别"),
    ({"核实结论": "出国", "核实日期": "2020-12-31"}, "早于本次比对（2021-03-01）"),
    ({"核实结论": "出国", "核实日期": dt.date.today() + dt.timedelta(days=3)}, "晚于今天"),
    (GOOD | {"核实结论": "省外就读"}, "核实结论为省外就读时请填写就读省份"),
    (GOOD | {"姓名": "张冒名"}, "受保护的单元格被改动：姓名（原为「"),
    (GOOD | {"问题标识": "K01|2021春|-|000000000000000000"}, "不属于本次比对"),
]


@pytest.mark.parametrize(("typed", "reason"), WRONG, ids=[w[1][:12] for w in WRONG])
def test_a_wrong_row_comes_back_with_its_reason_in_chinese(run, books, tmp_path, typed, reason):
    returned = fill(books["430102"], "控辍保学", {2: typed, 4: GOOD}, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "核实结果.xlsx")
    assert (result.filled, result.accepted, result.returned) == (2, 1, 1)
    (problem,) = read_rows(result.problems)
    assert problem["行号"] == 2 and problem["工作表"] == "控辍保学" and problem["工作簿"] == "back.xlsx"
    assert reason in problem["退回原因"]


def test_what_the_clerk_typed_is_kept_in_the_returned_row(run, books, tmp_path):
    typed = {"核实结论": "失连", "核实日期": "2021-03-10", "核实人": "王五", "说明": "家访两次"}
    returned = fill(books["430102"], "控辍保学", {4: typed}, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "v.xlsx")
    (problem,) = read_rows(result.problems)
    assert {k: problem[k] for k in typed} == typed
    assert problem["身份证号"] == cell(returned, "控辍保学", "身份证号", 4)


def test_accepted_rows_become_the_contracts_verifications_table(run, books, tmp_path):
    returned = fill(books["430121"], "控辍保学", {2: GOOD, 3: GOOD | {"核实结论": "省外就读", "就读省份": "广东省"}},
                    tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "核实结果.xlsx")
    assert (result.filled, result.accepted, result.returned, result.written) == (2, 2, 0, 2)
    rows = read_rows(result.verifications)
    assert list(rows[0]) == [c.header for c in VERIFICATIONS.columns]
    ids = [cell(returned, "控辍保学", "身份证号", r) for r in (2, 3)]
    assert [r["身份证号"] for r in rows] == ids
    assert rows[1] == {"身份证号": ids[1], "姓名": cell(returned, "控辍保学", "姓名", 3), "核实结论": "省外就读",
                           "就读省份": "广东省", "核实日期": "2021-03-10", "核实人": "李老师", "说明": "三帮一走访"}
    assert read_rows(result.problems) == [] and result.aid is None


def _first_row(path: Path, sheet: str, code: str) -> int:
    """The sheet row of the first finding of `code` (rows follow township, then priority)."""
    rows = openpyxl.load_workbook(path)[sheet].iter_rows(min_row=2, values_only=True)
    return next(n for n, r in enumerate(rows, start=2) if r[1] == code)


PAID = {"补发或追回金额": 625, "补发或追回日期": dt.datetime(2021, 5, 8), "凭证号": "BF-2021-118"}


def test_aid_rows_take_their_codes_conclusions_and_are_kept_apart_from_the_verifications(run, books, tmp_path):
    z02, z01 = (_first_row(books["430121"], "学生资助", c) for c in ("Z02", "Z01"))
    typed = {z02: GOOD | {"核实结论": "已补发"} | PAID,  # a 重复资助 is not closed by a 补发
             z01: GOOD | {"核实结论": "已补发", "说明": "家长已签收"} | PAID}  # a 漏助 is
    returned = fill(books["430121"], "学生资助", typed, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "核实结果.xlsx")
    assert (result.filled, result.accepted, result.returned, result.written) == (2, 1, 1, 0)
    assert (result.aid_written, result.aid_returned) == (1, 1)
    reasons = {p["行号"]: p["退回原因"] for p in read_rows(result.problems)}
    assert "核实结论「已补发」不是可选结论（Z02 可选：已追回、情况属实无需处理、数据错误、其他）" in reasons[z02]
    with result.aid.open(encoding="utf-8-sig") as fh:
        aid = {r["问题编码"]: r for r in csv.DictReader(fh)}
    assert {c: (r["核实结论"], r["补发或追回金额"], r["补发或追回日期"], r["凭证号"]) for c, r in aid.items()} == {
        "Z01": ("已补发", "625", "2021-05-08", "BF-2021-118")}
    assert aid["Z01"]["身份证号"] == cell(returned, "学生资助", "身份证号", z01)
    said = CliRunner().invoke(app, ["verify-import", str(returned), "--run", str(run.path),
                                    "--out", str(tmp_path / "cli.csv")])  # the command says the same
    assert said.exit_code == 0 and "其中资助问题：接收 1 行，退回 1 行" in said.output.replace("\n", "")

    z01 = _first_row(books["430102"], "学生资助", "Z01")  # 失联 is a schooling conclusion: never an aid one
    back = fill(books["430102"], "学生资助", {z01: GOOD}, tmp_path / "back3.xlsx")
    result = import_verifications([back], run, tmp_path / "核实结果3.xlsx")
    assert (result.accepted, result.returned) == (0, 1)
    assert "核实结论「失联」不是可选结论（Z01 可选：已补发" in read_rows(result.problems)[0]["退回原因"]


# what each aid conclusion needs (contract/aid_needs.py), typed on the aid sheet's own columns: the row's
# code, what the clerk typed beside GOOD's date and name, and the reason it comes back (None: accepted)
AID_NEEDS_RULES = [
    ("Z01", {"核实结论": "已补发"}, "核实结论为“已补发”时须填写：补发金额、补发日期、凭证号"),
    ("Z01", {"核实结论": "已补发"} | PAID | {"凭证号": None}, "须填写：凭证号（填在本行“凭证号”列）"),
    ("Z01", {"核实结论": "已补发"} | PAID | {"补发或追回金额": "625.001"}, "金额最多精确到分"),
    ("Z01", {"核实结论": "已补发"} | PAID | {"补发或追回金额": "-5"}, "金额须大于 0"),
    ("Z01", {"核实结论": "已补发"} | PAID | {"补发或追回日期": "五月八日"}, "补发或追回日期「五月八日」无法识别"),
    ("Z01", {"核实结论": "已补发"} | PAID | {"补发或追回日期": dt.date.today() + dt.timedelta(days=3)}, "晚于今天"),
    ("Z01", {"核实结论": "已补发"} | PAID, None),
    ("Z02", {"核实结论": "已追回", "补发或追回金额": "625.00"}, "须填写：追回日期、凭证号"),
    ("Z02", {"核实结论": "已追回"} | PAID, None),
    ("Z02", {"核实结论": "情况属实无需处理", "说明": "依据见文件"}, "须填写：政策依据（填在本行“政策依据”列）"),
    ("Z02", {"核实结论": "情况属实无需处理", "政策依据": "湘教发〔2019〕12号 第三条"}, None),
    ("Z02", {"核实结论": "数据错误"}, "核实结论为“数据错误”时须填写：错误的字段"),
    ("Z02", {"核实结论": "数据错误", "错误的字段": "发放记录的身份证号"}, None),
]


@pytest.mark.parametrize(("code", "typed", "reason"), AID_NEEDS_RULES,
                         ids=[f"{c}-{t['核实结论']}-{r[:10] if r else 'ok'}" for c, t, r in AID_NEEDS_RULES])
def test_an_aid_row_needs_what_its_conclusion_needs(run, books, tmp_path, code, typed, reason):
    at = _first_row(books["430121"], "学生资助", code)
    back = fill(books["430121"], "学生资助", {at: {k: v for k, v in GOOD.items() if k != "说明"} | typed},
                tmp_path / "back.xlsx")
    result = import_verifications([back], run, tmp_path / "核实结果.csv")
    assert (result.accepted, result.returned, result.aid_returned) == ((1, 0, 0) if reason is None else (0, 1, 1))
    if reason is not None:
        (problem,) = read_rows(result.problems)
        assert problem["行号"] == at and reason in problem["退回原因"]
        assert (problem["凭证号"] or "") == (typed.get("凭证号") or "")  # what the clerk typed comes back with the reason


def test_verifications_can_be_written_as_utf8_csv(run, books, tmp_path):
    returned = fill(books["430121"], "控辍保学", {2: GOOD}, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "核实结果.csv")
    with result.verifications.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [c.header for c in VERIFICATIONS.columns]
    assert rows[1][2:5] == ["失联", "", "2021-03-10"]


def test_one_finding_answered_differently_twice_is_returned_both_times(run, books, tmp_path):
    a = fill(books["430302"], "控辍保学", {2: GOOD}, tmp_path / "a.xlsx")
    b = fill(books["430302"], "控辍保学", {2: GOOD | {"核实结论": "出国"}, 3: GOOD}, tmp_path / "b.xlsx")
    result = import_verifications([a, b], run, tmp_path / "v.xlsx")
    assert (result.filled, result.accepted, result.returned) == (3, 1, 2)
    problems = read_rows(result.problems)
    assert sorted(p["工作簿"] for p in problems) == ["a.xlsx", "b.xlsx"]
    assert all("同一问题被填报了不同的核实结果" in p["退回原因"] for p in problems)


def test_the_same_answer_sent_twice_is_accepted_and_written_once(run, books, tmp_path):
    a = fill(books["430302"], "控辍保学", {2: GOOD}, tmp_path / "a.xlsx")
    b = fill(books["430302"], "控辍保学", {2: GOOD}, tmp_path / "b.xlsx")
    result = import_verifications([a, b], run, tmp_path / "v.xlsx")
    assert (result.filled, result.accepted, result.returned, result.written) == (2, 2, 0, 1)


def test_a_finding_of_another_county_cannot_be_verified_in_this_countys_workbook(run, books, tmp_path):
    other = openpyxl.load_workbook(books["430121"])["控辍保学"]
    foreign = {c.header: other[f"{COL[c.header]}2"].value for c in FINDING_COLUMNS if not c.header.startswith("核实")}
    foreign = {k: v for k, v in foreign.items() if v is not None}
    returned = fill(books["430102"], "控辍保学", {2: foreign | GOOD}, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "v.xlsx")
    (problem,) = read_rows(result.problems)
    assert problem["退回原因"] == "该问题属于其他县（长沙县），不能由本工作簿（430102）核实"


def test_a_row_typed_below_the_list_comes_back(run, books, tmp_path):
    last = openpyxl.load_workbook(books["430102"])["控辍保学"].max_row
    returned = fill(books["430102"], "控辍保学", {last + 2: GOOD}, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "v.xlsx")
    (problem,) = read_rows(result.problems)
    assert problem["行号"] == last + 2 and "问题标识为空" in problem["退回原因"]


def test_a_workbook_from_another_run_is_returned_whole(run, books, tmp_path):
    other = build_run(tmp_path / "other", run_id="R2020秋-1", n_per_county=30)
    returned = fill(books["430102"], "控辍保学", {2: GOOD, 4: GOOD}, tmp_path / "back.xlsx")
    result = import_verifications([returned], other, tmp_path / "v.xlsx")
    assert (result.accepted, result.returned) == (0, 2)
    assert all("工作簿来自另一次比对" in p["退回原因"] for p in read_rows(result.problems))


def test_an_unreadable_file_is_listed_as_a_problem_not_a_crash(run, books, tmp_path):
    broken = tmp_path / "坏文件.xlsx"
    broken.write_bytes(b"not a workbook")
    good = fill(books["430102"], "控辍保学", {2: GOOD}, tmp_path / "back.xlsx")
    result = import_verifications([broken, good], run, tmp_path / "v.xlsx")
    assert result.unreadable == [str(broken)] and result.accepted == 1
    (problem,) = read_rows(result.problems)
    assert problem["工作簿"] == "坏文件.xlsx" and "无法读取该工作簿" in problem["退回原因"]


def test_an_untouched_workbook_imports_nothing(run, books, tmp_path):
    result = import_verifications([books["430102"]], run, tmp_path / "v.xlsx")
    assert (result.filled, result.accepted, result.returned) == (0, 0, 0)
    assert read_rows(result.verifications) == []


def edited(path: Path, out: Path, edit) -> Path:
    """A copy of `path` after `edit(workbook)`: what a clerk does to the workbook besides typing."""
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(out)
    return out


def test_a_renamed_sheet_still_imports_every_filled_row(run, books, tmp_path):
    filled = fill(books["430102"], "控辍保学", {2: GOOD, 4: GOOD | {"核实结论": "出国"}}, tmp_path / "filled.xlsx")
    renamed = edited(filled, tmp_path / "back.xlsx", lambda wb: setattr(wb["控辍保学"], "title", "控辍保学（已核实）"))
    result = import_verifications([renamed], run, tmp_path / "核实结果.xlsx")
    assert (result.filled, result.accepted, result.returned, result.written) == (2, 2, 0, 2)
    assert [r["核实结论"] for r in read_rows(result.verifications)] == ["失联", "出国"]


def test_a_workbook_whose_conclusion_column_was_deleted_is_refused_and_nothing_is_written(run, books, tmp_path):
    filled = fill(books["430102"], "控辍保学", {2: GOOD}, tmp_path / "filled.xlsx")
    column = list(COL).index("核实结论") + 1
    cut = edited(filled, tmp_path / "back.xlsx", lambda wb: wb["控辍保学"].delete_cols(column))
    out = tmp_path / "核实结果.xlsx"
    with pytest.raises(InputError, match="找不到「核实结论」列") as refused:
        import_verifications([cut], run, out)
    assert "控辍保学" in str(refused.value) and str(cut) in str(refused.value)
    assert not out.exists() and list(tmp_path.glob("*退回*")) == []


def test_a_workbook_that_is_not_a_returned_list_is_refused(run, tmp_path):
    other = tmp_path / "花名册.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["身份证号", "姓名", "核实结论"])
    wb.active.append(["430102201001010011", "张三", "失联"])
    wb.save(other)
    with pytest.raises(InputError, match="没有找到一单的问题工作表"):
        import_verifications([other], run, tmp_path / "v.xlsx")


def test_a_note_that_looks_like_a_formula_is_written_to_the_csv_as_text(run, books, tmp_path):
    returned = fill(books["430121"], "控辍保学", {2: GOOD | {"说明": "@张老师 -已劝返"}}, tmp_path / "back.xlsx")
    result = import_verifications([returned], run, tmp_path / "核实结果.csv")
    with result.verifications.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][6] == "'@张老师 -已劝返"
    assert list(tmp_path.glob(".*tmp*")) == []  # written through a temporary name, nothing left behind


def test_rows_of_a_sheet_whose_key_header_was_overwritten_come_back_rather_than_vanish(run, books, tmp_path):
    filled = fill(books["430102"], "控辍保学", {2: GOOD, 4: GOOD}, tmp_path / "filled.xlsx")
    broken = edited(filled, tmp_path / "back.xlsx", lambda wb: wb["控辍保学"].cell(1, 1, "备注"))
    result = import_verifications([broken], run, tmp_path / "v.xlsx")
    assert (result.filled, result.accepted, result.returned) == (2, 0, 2)
    assert all("缺少列：问题标识" in p["退回原因"] for p in read_rows(result.problems))

