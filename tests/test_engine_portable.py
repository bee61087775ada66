"""Portable expressions behave like the constructs they replace (on DuckDB; Spark parity in test_engine_spark)."""

from __future__ import annotations

import ibis
import pytest

from yidan.engine import connect
from yidan.engine.portable import mix_order, number_text, ordered_concat, round_half_up


@pytest.fixture(scope="module")
def duck():
    engine = connect()
    yield engine
    engine.close()


def values(duck, table: dict, build) -> list:
    t = duck.ibis.create_table("t", ibis.memtable(table), overwrite=True)
    return build(t).to_pyarrow().column(0).to_pylist()


def test_ordered_concat_joins_readings_in_character_order(duck):
    table = {"g": [1, 1, 1], "pos": [2, 0, 1], "r": ["ming", "zhang", "xiao"]}
    got = values(duck, table, lambda t: t.group_by("g").agg(s=ordered_concat(t.r, t.pos, " ")).select("s"))
    assert got == ["zhang xiao ming"]


def test_ordered_concat_agrees_with_ordered_group_concat_on_duckdb(duck):
    table = {"g": [1, 1, 1, 1, 2, 2, 3], "pos": [3, 1, 0, 2, 1, 0, 0],
             "r": ["d", None, "a", "c", "y", "x", "z"], "ok": [True, True, True, False, True, True, False]}
    ours = values(duck, table, lambda t: t.group_by("g").agg(
        s=ordered_concat(t.r, t.pos, "", where=t.ok)).order_by("g").select("s"))
    theirs = values(duck, table, lambda t: t.group_by("g").agg(
        s=t.r.group_concat("", where=t.ok, order_by=t.pos)).order_by("g").select("s"))
    assert ours == theirs == ["ad", "xy", None]


def test_mix_order_spreads_consecutive_keys_and_repeats_itself(duck):
    table = {"k": list(range(1, 101))}
    first = values(duck, table, lambda t: t.select(m=mix_order(t.k)))
    again = values(duck, table, lambda t: t.select(m=mix_order(t.k)))
    assert first == again
    assert len(set(first)) == 100
    order = sorted(range(100), key=lambda i: first[i])
    assert order[:10] != list(range(10)), "a sort on the mix must not keep the key order"


@pytest.mark.parametrize(
    ("x", "rounded", "text"),
    [(1.005, 1.0, "1.00"), (2.675, 2.68, "2.68"), (-0.001, 0.0, "0.00"), (-3.5, -3.5, "-3.50"),
     (0.125, 0.13, "0.13"), (12345678.9, 12345678.9, "12345678.90")],
)
def test_rounding_and_text_follow_the_float_product(duck, x, rounded, text):
    # 1.005 * 100 is 100.4999… in binary, 2.675 * 100 is exactly 267.5: the product decides
    assert values(duck, {"x": [x]}, lambda t: t.select(r=round_half_up(t.x))) == [rounded]
    assert values(duck, {"x": [x]}, lambda t: t.select(s=number_text(t.x))) == [text]


def test_missing_number_stays_missing(duck):
    t = duck.ibis.create_table("t", ibis.memtable({"x": [None, 1.0]}, schema={"x": "float64"}), overwrite=True)
    got = t.select(r=round_half_up(t.x), s=number_text(t.x)).to_pyarrow().to_pylist()
    assert got == [{"r": None, "s": None}, {"r": 1.0, "s": "1.00"}]
