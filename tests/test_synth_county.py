"""The county preset looks like a real county: every status, large classes, mostly non-poor pupils."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from yidan.contract.codes import STATUSES
from yidan.synth import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("county")
    generate("county", 2, out)
    return out


def _enrollment(out: Path):
    cols = {c: pa.string() for c in ("全国学籍号", "身份证号", "学校标识码", "班级", "学期", "学校区划代码")}
    return pacsv.read_csv(out / "enrollment.csv", convert_options=pacsv.ConvertOptions(column_types=cols))


def test_county_preset_is_one_county_of_registry_members_at_the_promised_size(county: Path) -> None:
    meta = json.loads((county / "generated.json").read_text(encoding="utf-8"))
    assert meta["counties"] == ["433127"]
    assert 30_000 <= meta["rows"]["registry"] <= 50_000
    persons = pq.read_table(county / "truth" / "persons.parquet")
    school_age = pc.sum(persons["in_school_age"]).as_py()
    assert 5_000 <= school_age <= 10_000


def test_every_status_a_generator_can_know_appears(county: Path) -> None:
    persons = pq.read_table(county / "truth" / "persons.parquet")
    seen = set(pc.unique(persons["status"].drop_null()).to_pylist())
    # REVIEW depends on the linkage model's scores, not on the data
    assert seen == set(STATUSES) - {"REVIEW"}


def test_registry_children_are_a_minority_of_pupils(county: Path) -> None:
    enr = _enrollment(county)
    spring = enr.filter(pc.equal(enr["学期"], "2021春"))
    linked = set(pq.read_table(county / "truth" / "links.parquet")["student_no"].to_pylist())
    share = sum(s in linked for s in spring["全国学籍号"].to_pylist()) / spring.num_rows
    assert 0.15 <= share <= 0.25


def test_some_classes_are_large_and_a_few_very_large(county: Path) -> None:
    enr = _enrollment(county)
    spring = enr.filter(pc.equal(enr["学期"], "2021春"))
    sizes = Counter(zip(spring["学校标识码"].to_pylist(), spring["班级"].to_pylist(), strict=True)).values()
    assert any(56 <= s <= 65 for s in sizes)
    assert any(s >= 66 for s in sizes)
    assert sum(s >= 56 for s in sizes) < len(sizes) / 2


def test_schools_have_ten_digit_codes_in_the_county_and_a_few_in_the_next(county: Path) -> None:
    enr = _enrollment(county)
    codes = set(enr["学校标识码"].to_pylist())
    assert all(len(c) == 10 and c.isdigit() for c in codes)
    counties = Counter(enr["学校区划代码"].to_pylist())
    # the county's pupils, and the schools of the next county of the province (433130), where about
    # 3 % of the county's registry children study beside as many of that county's own pupils
    assert set(counties) == {"433127", "433130"}
    assert 0.01 <= counties["433130"] / enr.num_rows <= 0.06


def test_injected_counts_follow_the_recorded_rates(county: Path) -> None:
    meta = json.loads((county / "generated.json").read_text(encoding="utf-8"))
    for tag, r in meta["rates"].items():
        expected = min(r["pool_size"], max(r["minimum"], round(r["rate"] * r["pool_size"])))
        assert meta["faults"][tag] == expected, tag
