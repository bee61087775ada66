"""The audit step as the pipeline sees it: terms audited or not, skipping, schemas, totals."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from test_audit_rules import RULES, findings_of, outcome, run_case
from yidan.errors import InputError
from yidan.identity.divisions import county_label, county_name, province_name
from yidan.pipeline.audit import findings, totals


def _case(name: str) -> dict:
    return tomllib.loads((RULES / f"{name}.toml").read_text(encoding="utf-8"))


def test_a_requested_term_without_its_own_snapshot_stops_the_audit_with_a_chinese_error() -> None:
    case = _case("z01_missed")
    case["audit_terms"] = ["2020秋", "2021春"]
    with pytest.raises(InputError) as err:
        run_case(case)
    assert "资助核查学期 2021春 没有学籍数据" in str(err.value) and "--allow-missing-terms" in str(err.value)


def test_a_term_without_its_own_snapshot_is_reported_not_audited_and_never_borrows_another() -> None:
    case = _case("z01_missed")
    case["audit_terms"] = ["2020秋", "2021春"]
    case["allow_missing_terms"] = True
    # a spring payment exists, but there is no 2021春 snapshot: nothing about spring may be said
    case["aid"] = case["aid"] + [{**case["aid"][0], "term": "2021春", "amount": "999.00"}]
    ctx = run_case(case)
    notes = ctx.notes["audit"]
    assert notes["terms_audited"] == ["2020秋"]
    assert notes["terms_not_audited"] == ["2021春"]
    assert "没有该学期的学籍快照" in notes["not_audited_reasons"]["2021春"]
    assert {f["term"] for f in findings_of(ctx)} == {"2020秋"}
    assert notes["payments_audited"] == 1


def test_audit_without_aid_writes_empty_tables_with_the_findings_schema() -> None:
    ctx = run_case(_case("z01_missed"), skip=("aid",))
    f = ctx.get("aid_findings")
    t = ctx.get("aid_totals")
    assert f.count().execute() == 0 and t.count().execute() == 0
    assert f.schema() == findings.SCHEMA
    assert t.schema() == totals.SCHEMA
    assert ctx.notes["audit"]["skipped"]


def test_audit_without_audit_terms_raises_no_aid_findings() -> None:
    case = _case("z01_missed")
    case["audit_terms"] = []
    ctx = run_case(case)
    assert findings_of(ctx) == []
    assert ctx.notes["audit"]["terms_audited"] == []


def test_findings_carry_the_contract_columns_with_exact_amounts() -> None:
    ctx = run_case(_case("z02_duplicate"))
    f = ctx.get("aid_findings")
    assert f.schema() == findings.SCHEMA
    (row,) = [f for f in findings_of(ctx) if f["code"] == "Z02"]  # (the second payer's own Z10 beside it)
    assert row["amount_paid"] == Decimal("1250.00")
    assert row["family"] == "aid" and row["label"] == "重复资助"
    assert row["township"] == "430124101" and row["village"] == "430124101201"
    assert row["school_code"] == "4301810001"
    assert '"paid_by":"430124:625.00;430181:625.00"' in row["evidence"]


def test_province_paid_total_equals_the_audited_payments_to_the_fen() -> None:
    for path in sorted(RULES.glob("[!_]*.toml")):
        result = outcome(path.stem)
        case = result.case
        paid = sum((Decimal(str(r["paid_amount"])) for r in result.totals), Decimal("0"))
        audited = set(result.notes["terms_audited"])
        rows = sum((Decimal(a["amount"]) for a in case.get("aid", []) if a["term"] in audited), Decimal("0"))
        assert paid == rows, path.name


def test_findings_keep_their_keys_from_run_to_run() -> None:
    case = _case("boarding_changed_between_terms")
    first = sorted(f["finding_key"] for f in findings_of(run_case(case)))
    case["registry"] = list(reversed(case["registry"]))
    case["aid"] = list(reversed(case["aid"]))
    assert sorted(f["finding_key"] for f in findings_of(run_case(case))) == first


def test_county_names_come_from_the_division_table() -> None:
    assert county_name("430181") == "浏阳市"
    assert county_label("430124") == "宁乡县"
    assert province_name("430124") == "湖南省"
    # a code renamed in the table shows its current name, an unknown code shows itself
    assert county_label("430102") == "芙蓉区"
    assert county_label("439999") == "439999"
    assert county_label(None) == "（未知县）"


def test_rule_files_are_all_readable_cases() -> None:
    for path in Path(RULES).glob("[!_]*.toml"):
        case = tomllib.loads(path.read_text(encoding="utf-8"))
        assert case["description"] and case["audit_terms"], path.name


def test_manifest_figures_give_totals_per_term_and_programme_as_exact_text() -> None:
    notes = outcome("z02_duplicate").notes
    (row,) = notes["totals"]
    assert row == {"term": "2020秋", "programme_code": "YW-CZ-JS", "entitled_n": 1,
                   "entitled_amount": "625.00", "paid_amount": "1250.00", "missed_amount": "0.00",
                   "duplicate_amount": "625.00", "wrong_amount": "0.00",
                   # the catalog sets no funding split: nothing is divided among the three levels
                   "entitled_central": "0.00", "entitled_province": "0.00", "entitled_local": "0.00",
                   "unpaid_amount": "0.00", "short_amount": "0.00", "over_amount": "0.00"}
    # by county: the school's county is owed and paid once, the household county paid once more
    by_county = {r["county"]: r for r in notes["totals_by_county"]}
    assert set(by_county) == {"430124", "430181"}
    assert by_county["430181"]["duplicate_amount"] == "625.00" and by_county["430181"]["entitled_n"] == 1
    assert by_county["430124"]["paid_amount"] == "625.00" and by_county["430124"]["entitled_n"] == 0
    assert notes["findings"] == {"Z02": 1, "Z10": 1}  # the household county recovers its payment
    assert notes["payments_audited"] == 2 and notes["payments_unresolved"] == 0
