"""A policy catalog the audit cannot read unambiguously stops the run with a Chinese message that
names the rows and says what to change (never a traceback, never a silent first-row-wins)."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from test_audit_rules import RULES, run_case
from yidan.errors import InputError

BASE = tomllib.loads((RULES / "z06_amount_differs.toml").read_text(encoding="utf-8"))
ROW: dict[str, Any] = {
    "programme_code": "YW-CZ-JS", "programme_name": "初中寄宿生生活补助", "stages": ["初中"],
    "boarding_rule": "寄宿", "target_categories": ["建档立卡"], "amount_per_term": "625.00",
    "first_term": "2019秋", "payer_rule": "学籍地",
}


def _fails(*rows: dict[str, Any]) -> str:
    case = {**BASE, "policies": [{**ROW, **r} for r in rows]}
    with pytest.raises(InputError) as err:
        run_case(case)
    return str(err.value)


def test_two_rows_of_one_programme_in_force_the_same_term_are_refused_with_both_rows_named() -> None:
    msg = _fails({}, {"amount_per_term": "700.00", "first_term": "2020秋"})
    assert "资助项目 YW-CZ-JS 在 2020秋 有两行同时有效" in msg
    assert "policies.csv 第 2 行" in msg and "policies.csv 第 3 行" in msg
    assert "旧行填写截止学期" in msg


def test_a_dated_change_that_ends_the_old_row_is_read_as_two_standards() -> None:
    ctx = run_case({**BASE, "policies": [{**ROW, "last_term": "2020春"},
                                         {**ROW, "amount_per_term": "600.00", "first_term": "2020秋"}]})
    assert ctx.get("aid_findings").count().to_pyarrow().as_py() == 0  # 600.00 is 2020秋's standard


def test_grades_beside_an_ungraded_row_are_refused() -> None:
    assert "既有分档行又有不分档的行" in _fails({"grade": "一档"}, {"amount_per_term": "500.00"})


def test_grades_whose_conditions_differ_are_refused() -> None:
    msg = _fails({"grade": "一档"}, {"grade": "二档", "amount_per_term": "500.00", "boarding_rule": "不限"})
    assert "各档的条件不一致（boarding_rule）" in msg


@pytest.mark.parametrize(("field", "value", "words"), [
    ("region", "4301245", "适用地区「4301245」不是区划代码"),
    ("pay_within_days", "三个月", "发放时限天数「三个月」不是正整数"),
    ("share_central", "90", "中央与省级分担比例合计 110.00% 超过 100%"),
])
def test_a_malformed_catalog_cell_is_named_in_chinese(field: str, value: str, words: str) -> None:
    extra = {"share_province": "20"} if field == "share_central" else {}
    assert words in _fails({field: value, **extra})
