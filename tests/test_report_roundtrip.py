"""The whole loop on a real run of the synthetic tiny province: export the county workbooks,
fill them the way clerks do (some rows wrong), import them, run the comparison again with the
imported verifications, and check what changed the way the contract says it must."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from yidan.identity.terms import parse_term
from yidan.pipeline.context import RunInputs
from yidan.pipeline.run import run_comparison
from yidan.reports import import_verifications, write_workbooks
from yidan.reports.styles import FINDING_COLUMNS
from yidan.settings import RunConfig

COL = {c.header: openpyxl.utils.get_column_letter(i + 1) for i, c in enumerate(FINDING_COLUMNS)}


def comparison(data: Path, out: Path, extra_verifications: list[Path]) -> object:
    inputs = RunInputs(
        registry=[data / "registry.csv"], enrollment=[data / "enrollment.xlsx"],
        out_of_province=[data / "out_of_province.xlsx"],
        verifications=[data / "verifications.xlsx", *extra_verifications],
    )
    return run_comparison(inputs, term=parse_term("2021春"), out_dir=out, config=RunConfig())


def key(code: str, finding: dict) -> str:
    """The stable key the same child's finding of another code has (schooling: no programme)."""
    return f"{code}|{finding['term']}|-|{finding['person_id']}"


def findings(run) -> dict[str, dict]:
    return {f["finding_key"]: f for f in pq.read_table(run.parquet_path("findings")).to_pylist()}


def statuses(run) -> dict[str, str]:
    return {p["person_id"]: p["status"] for p in pq.read_table(run.parquet_path("persons")).to_pylist()}


@pytest.fixture(scope="module")
def loop(tiny_dataset, tmp_path_factory):
    """Run 1, the workbooks, the clerks' answers, the import and run 2 (a real pipeline twice), on the
    session's tiny preset (read only)."""
    base = tmp_path_factory.mktemp("loop")
    first = comparison(tiny_dataset.out, base / "run1", [])
    before = findings(first)
    books = {p.name[:6]: p for p in write_workbooks(first, base / "books")}
    invalid_ids = {f["person_id"] for f in before.values() if f["code"] == "K06"}
    # children with no current enrollment: unmatched (K01) or primary graduates not progressed (K09);
    # a verification decides their status (precedence 4 comes before 5 and 8)
    open_ = sorted((f for f in before.values() if f["code"] in ("K01", "K09") and f["person_id"] not in invalid_ids),
                   key=lambda f: f["finding_key"])
    k02 = sorted((f for f in before.values() if f["code"] == "K02"), key=lambda f: f["finding_key"])
    enrolled_dropout = [f for f in k02 if "学籍状态为辍学" in f["detail"]]
    lost = [f for f in k02 if "核实结论为失联" in f["detail"]]
    assert len(open_) >= 3 and enrolled_dropout and lost, "the tiny preset holds these cases"
    used = {f["person_id"] for f in [*open_[:3], enrolled_dropout[0], lost[0]]}
    others = sorted((f for f in before.values() if f["family"] == "schooling" and f["person_id"] not in used),
                    key=lambda f: f["finding_key"])
    assert len(others) >= 3
    today = dt.date.today()
    answers = [  # (finding, what the clerk types, accepted?)
        (open_[0], {"核实结论": "因残免学"}, True),
        (open_[1], {"核实结论": "失联"}, True),
        (open_[2], {"核实结论": "省外就读", "就读省份": "广东省"}, True),
        (enrolled_dropout[0], {"核实结论": "已劝返复学"}, True),
        (lost[0], {"核实结论": "已劝返复学"}, True),
        (others[0], {"核实结论": "出国了"}, False),
        (others[1], {"核实结论": "出国", "核实日期": today + dt.timedelta(days=30)}, False),
        (others[2], {"核实结论": "其他", "姓名": "改过的名字"}, False),
    ]
    returned = []
    for county, path in books.items():
        wb = openpyxl.load_workbook(path)
        for finding, typed, _ in answers:
            if finding["county"] != county:
                continue
            ws = wb["控辍保学"]
            (row,) = [r for r in range(2, ws.max_row + 1) if ws[f"A{r}"].value == finding["finding_key"]]
            for header, value in ({"核实日期": today, "核实人": "县教育局 李老师"} | typed).items():
                ws[f"{COL[header]}{row}"] = value
        wb.save(base / f"returned_{county}.xlsx")
        returned.append(base / f"returned_{county}.xlsx")
    result = import_verifications(returned, first, base / "核实结果.xlsx")
    second = comparison(tiny_dataset.out, base / "run2", [result.verifications])
    return {"first": first, "second": second, "answers": answers, "result": result, "books": books}


def test_filled_rows_reconcile_as_accepted_plus_returned(loop):
    result, answers = loop["result"], loop["answers"]
    assert result.filled == len(answers) == result.accepted + result.returned
    assert result.accepted == sum(1 for *_, ok in answers if ok)


def test_wrong_rows_come_back_with_their_reasons(loop):
    ws = openpyxl.load_workbook(loop["result"].problems).active
    header, *rows = list(ws.iter_rows(values_only=True))
    got = {r[header.index("问题标识")]: r[header.index("退回原因")] for r in rows}
    wrong = [f for f, _, ok in loop["answers"] if not ok]
    assert set(got) == {f["finding_key"] for f in wrong}
    assert "核实结论「出国了」不是可选结论" in got[wrong[0]["finding_key"]]
    assert "晚于今天" in got[wrong[1]["finding_key"]]
    assert "受保护的单元格被改动：姓名" in got[wrong[2]["finding_key"]]


def test_a_child_verified_exempt_leaves_the_list(loop):
    finding = loop["answers"][0][0]
    assert statuses(loop["second"])[finding["person_id"]] == "EXEMPT"
    assert finding["finding_key"] not in findings(loop["second"])


def test_a_child_verified_lost_becomes_a_dropout(loop):
    finding = loop["answers"][1][0]
    after = findings(loop["second"])
    assert statuses(loop["second"])[finding["person_id"]] == "DROPPED_OUT"
    assert finding["finding_key"] not in after
    assert key("K02", finding) in after


def test_a_child_claimed_out_of_province_waits_for_proof(loop):
    finding = loop["answers"][2][0]
    assert statuses(loop["second"])[finding["person_id"]] == "OUT_OF_PROVINCE"
    assert key("K04", finding) in findings(loop["second"])


def test_a_claimed_return_does_not_overrule_an_enrollment_that_says_dropped_out(loop):
    finding = loop["answers"][3][0]
    assert statuses(loop["second"])[finding["person_id"]] == "DROPPED_OUT"
    assert finding["finding_key"] in findings(loop["second"])


def test_a_claimed_return_without_an_enrollment_leaves_the_child_unmatched(loop):
    finding = loop["answers"][4][0]
    assert statuses(loop["first"])[finding["person_id"]] == "DROPPED_OUT"
    assert statuses(loop["second"])[finding["person_id"]] == "UNMATCHED"
    assert finding["finding_key"] not in findings(loop["second"])
    assert key("K01", finding) in findings(loop["second"])


def test_returned_rows_change_nothing_in_the_next_run(loop):
    after = findings(loop["second"])
    for finding, _, ok in loop["answers"]:
        if not ok:
            assert finding["finding_key"] in after


def test_the_covers_of_a_real_run_equal_its_summary_and_findings(loop):
    summary = pq.read_table(loop["first"].parquet_path("summary")).to_pylist()
    before = findings(loop["first"]).values()
    for county, path in loop["books"].items():
        cover = {r[0]: r[1:] for r in openpyxl.load_workbook(path)["封面"].iter_rows(values_only=True) if r[0]}
        children = sum(s["count"] for s in summary if s["dimension"] == "status" and s["county"] == county)
        assert cover["学龄儿童合计"][0] == children
        for code in ("K01", "K02", "K08"):
            assert cover[code][2] == sum(1 for f in before if f["county"] == county and f["code"] == code)
        assert cover["问题合计"][2] == sum(1 for f in before if f["county"] == county)
