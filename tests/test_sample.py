"""Inspection samples: reproducible, proportional, and explained on their cover."""

from __future__ import annotations

import openpyxl
import pyarrow.parquet as pq
import pytest

from reports_fixtures import build_run
from yidan.errors import YidanError
from yidan.reports import draw_sample
from yidan.reports.sample import allocate


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run", n_per_county=30, counties=("430102", "430121", "430302"))


def drawn_ids(path) -> list[str]:
    rows = list(openpyxl.load_workbook(path)["样本名单"].iter_rows(values_only=True))
    col = rows[0].index("身份证号")
    return [r[col] for r in rows[1:]]


@pytest.mark.parametrize(
    ("populations", "size", "expected"),
    [
        ({"a": 5, "b": 3, "c": 2}, 5, {"a": 3, "b": 1, "c": 1}),  # 2.5/1.5/1.0: the tie on .5 goes to "a"
        ({"a": 60, "b": 30, "c": 10}, 10, {"a": 6, "b": 3, "c": 1}),  # exact quotas
        ({"a": 7, "b": 7, "c": 7}, 10, {"a": 4, "b": 3, "c": 3}),
        ({"a": 2, "b": 1}, 50, {"a": 2, "b": 1}),  # more than the population: everyone
    ],
)
def test_allocation_is_proportional_with_the_largest_remainder_rule(populations, size, expected):
    assert allocate(populations, size) == expected


def test_the_same_run_and_seed_give_the_same_children(run, tmp_path):
    first = draw_sample(run, 12, "county", 2021, tmp_path / "a.xlsx")
    second = draw_sample(run, 12, "county", 2021, tmp_path / "b.xlsx")
    assert drawn_ids(first.path) == drawn_ids(second.path)
    assert len(set(drawn_ids(first.path))) == 12


def test_another_seed_gives_other_children(run, tmp_path):
    a = set(drawn_ids(draw_sample(run, 12, "county", 1, tmp_path / "a.xlsx").path))
    b = set(drawn_ids(draw_sample(run, 12, "county", 2, tmp_path / "b.xlsx").path))
    assert a != b


def test_the_order_of_rows_in_the_run_does_not_change_the_sample(run, tmp_path):
    again = build_run(tmp_path / "shuffled", n_per_county=30)
    persons = pq.read_table(again.parquet_path("persons"))
    pq.write_table(persons.take(list(range(persons.num_rows))[::-1]), again.parquet_path("persons"))
    assert drawn_ids(draw_sample(run, 9, "county", 5, tmp_path / "a.xlsx").path) == drawn_ids(
        draw_sample(again, 9, "county", 5, tmp_path / "b.xlsx").path)


def test_each_county_gets_its_share_and_the_children_come_from_that_county(run, tmp_path):
    result = draw_sample(run, 10, "county", 7, tmp_path / "s.xlsx")
    assert [(s.code, s.population, s.size) for s in result.strata] == [
        ("430102", 30, 4), ("430121", 30, 3), ("430302", 30, 3)]
    rows = list(openpyxl.load_workbook(result.path)["样本名单"].iter_rows(values_only=True))
    county = rows[0].index("户籍县代码")
    assert sorted(r[county] for r in rows[1:]) == ["430102"] * 4 + ["430121"] * 3 + ["430302"] * 3


def test_the_cover_shows_seed_method_and_strata_sizes(run, tmp_path):
    result = draw_sample(run, 10, "county", 7, tmp_path / "s.xlsx")
    cover = {r[0]: r[1:] for r in openpyxl.load_workbook(result.path)["抽样说明"].iter_rows(values_only=True) if r[0]}
    assert cover["随机种子"][0] == "7" and cover["样本量"][0] == "10" and cover["总体人数"][0] == "90"
    assert "按比例分层抽样" in cover["抽样方法"][0] and "MD5" in cover["抽样方法"][0]
    assert cover["430121"][:2] == ("长沙县", 30) and cover["430121"][3] == 3


def test_sampling_by_status_stratifies_on_schooling_status(run, tmp_path):
    result = draw_sample(run, 13, "status", 3, tmp_path / "s.xlsx")
    assert sum(s.size for s in result.strata) == 13
    assert {s.name for s in result.strata} >= {"在校", "辍学"}


def test_an_unknown_stratification_is_refused_in_chinese(run, tmp_path):
    with pytest.raises(YidanError, match="不支持的分层方式"):
        draw_sample(run, 10, "school", 1, tmp_path / "s.xlsx")
