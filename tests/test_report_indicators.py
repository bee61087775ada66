"""Indicators: what a province reports to every level, checked against the run's own files."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pyarrow.parquet as pq
import pytest

from reports_fixtures import COUNTIES, build_run, person_ids, set_statuses
from yidan.reports import compute_indicators, write_indicators
from yidan.reports.indicators import indicator_value


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def table(run):
    return compute_indicators(run)


def test_children_by_status_equal_the_persons_of_each_county(run, table):
    persons = pq.read_table(run.parquet_path("persons")).to_pylist()
    counts = Counter((p["hukou_county"], p["status"]) for p in persons)
    for (county, status), n in counts.items():
        assert indicator_value(table, "children_by_status", county, status) == n


def test_city_and_province_figures_are_the_sums_of_their_counties(table):
    rows = table.to_pylist()
    for name in {r["indicator"] for r in rows if r["unit"] != "%"}:
        for key in {r["key"] for r in rows if r["indicator"] == name}:
            county = [r["value"] for r in rows if r["indicator"] == name and r["key"] == key and r["level"] == "county"]
            province = indicator_value(table, name, "430000", key)
            assert province == pytest.approx(sum(county)), (name, key)
            changsha = sum(r["value"] for r in rows if r["indicator"] == name and r["key"] == key
                           and r["level"] == "county" and r["region"].startswith("4301"))
            assert (indicator_value(table, name, "430100", key) or 0) == pytest.approx(changsha)


def test_in_school_share_counts_home_teaching_and_out_of_province_as_in_school(tmp_path):
    run = build_run(tmp_path / "run", n_per_county=12, counties=("430121",))
    persons = pq.read_table(run.parquet_path("persons")).to_pylist()
    compulsory = [p["person_id"] for p in persons if p["compulsory_age"]]
    statuses = ["IN_SCHOOL", "HOME_TEACHING", "OUT_OF_PROVINCE", "DROPPED_OUT"]
    set_statuses(run, {pid: statuses[i % 4] for i, pid in enumerate(compulsory)})
    t = compute_indicators(run)
    in_school = sum(1 for i in range(len(compulsory)) if i % 4 < 3)
    assert indicator_value(t, "compulsory_children", "430121") == len(compulsory)
    assert indicator_value(t, "compulsory_in_school", "430121") == in_school
    assert indicator_value(t, "compulsory_in_school_rate", "430121") == pytest.approx(in_school / len(compulsory))
    assert indicator_value(t, "dropouts", "430121") == sum(1 for i in range(len(compulsory)) if i % 4 == 3)


def test_returns_new_and_repeat_dropouts_compare_runs(tmp_path):
    older, previous, now = (build_run(tmp_path / n, run_id=n, counties=("430102",)) for n in ("older", "prev", "now"))
    a, b, c, d = person_ids(now, "430102")[:4]
    set_statuses(older, {a: "DROPPED_OUT", b: "IN_SCHOOL", c: "IN_SCHOOL", d: "IN_SCHOOL"})
    set_statuses(previous, {a: "IN_SCHOOL", b: "DROPPED_OUT", c: "IN_SCHOOL", d: "IN_SCHOOL"})
    set_statuses(now, {a: "DROPPED_OUT", b: "HOME_TEACHING", c: "DROPPED_OUT", d: "IN_SCHOOL"})
    base = {p: s for p, s in zip(person_ids(now, "430102"), ["IN_SCHOOL"] * 30, strict=True) if p not in (a, b, c, d)}
    for r in (older, previous, now):
        set_statuses(r, base)
    t = compute_indicators(now, [previous, older])
    assert indicator_value(t, "returns", "430102") == 1  # b
    assert indicator_value(t, "new_dropouts", "430102") == 2  # a and c
    assert indicator_value(t, "repeat_dropouts", "430102") == 1  # a: dropped, returned, dropped again
    assert indicator_value(compute_indicators(now, previous), "repeat_dropouts", "430102") is None


def test_findings_closed_are_last_runs_findings_absent_now(tmp_path):
    previous = build_run(tmp_path / "prev", shift=1)
    now = build_run(tmp_path / "now")
    before = pq.read_table(previous.parquet_path("findings")).to_pylist()
    current = {f["finding_key"] for f in pq.read_table(now.parquet_path("findings")).to_pylist()}
    t = compute_indicators(now, previous)
    for county in COUNTIES:
        for family in ("schooling", "aid", "quality"):
            closed = sum(1 for f in before if f["county"] == county and f["family"] == family
                         and f["finding_key"] not in current)
            assert (indicator_value(t, "findings_closed", county, family) or 0) == closed


def test_aid_figures_come_from_the_summary_and_findings(run, table):
    summary = [s for s in pq.read_table(run.parquet_path("summary")).to_pylist() if s["dimension"] == "aid"]
    findings = pq.read_table(run.parquet_path("findings")).to_pylist()
    for county in COUNTIES:
        entitled = sum(s["count"] for s in summary if s["county"] == county)
        missed = sum(1 for f in findings if f["county"] == county and f["code"] == "Z01")
        assert indicator_value(table, "aid_entitled", county, "2021春") == entitled
        assert indicator_value(table, "aid_amount_paid", county, "2021春") == pytest.approx(
            float(sum(s["amount_paid"] for s in summary if s["county"] == county)))
        assert indicator_value(table, "aid_coverage", county) == pytest.approx(1 - missed / entitled)


def test_large_classes_are_56_to_65_pupils_and_very_large_66_or_more(run, table):
    sizes = [s for s in pq.read_table(run.parquet_path("summary")).to_pylist() if s["dimension"] == "class_size"]
    for county in COUNTIES:
        mine = [s["count"] for s in sizes if s["county"] == county]
        assert indicator_value(table, "large_classes", county) == sum(1 for n in mine if 56 <= n <= 65)
        assert indicator_value(table, "very_large_classes", county) == sum(1 for n in mine if n >= 66)


def test_class_sizes_are_counted_from_the_enrollment_file_when_the_run_did_not_record_them(tmp_path):
    run = build_run(tmp_path / "run", counties=("430121",))
    summary = pq.read_table(run.parquet_path("summary"))
    keep = pa.compute.not_equal(summary["dimension"], "class_size")
    pq.write_table(summary.filter(keep), run.parquet_path("summary"))
    lines = ["全国学籍号,姓名,出生日期,学校标识码,学校区划代码,学段,年级,班级,学籍状态,学期"]
    for cls, pupils in (("1班", 57), ("2班", 66), ("3班", 40)):
        for i in range(pupils + 2):  # two pupils of each class left in 2020秋 or transferred out
            term, status = ("2020秋", "在读") if i == pupils else ("2021春", "转出" if i > pupils else "在读")
            lines.append(f"L{cls[0]}{i:05d},学生{i},2012-05-01,4301210001,430121,小学,三年级,{cls},{status},{term}")
    enrollment = tmp_path / "enrollment.csv"
    enrollment.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = json.loads((run.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["inputs"] = [{"table": "enrollment", "path": str(enrollment)}]
    (run.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    from yidan.runs.rundir import RunDir

    t = compute_indicators(RunDir(run.path))
    assert indicator_value(t, "large_classes", "430121") == 1
    assert indicator_value(t, "very_large_classes", "430121") == 1


def test_indicators_are_written_to_indicators_parquet(run, tmp_path):
    path = write_indicators(run, tmp_path / "out")
    assert path.name == "indicators.parquet"
    written = pq.read_table(path)
    assert written.column_names == ["indicator", "label", "unit", "level", "region", "region_name", "key", "value",
                                    "numerator", "denominator", "basis"]
    # the province's in-school rate as written, against the run's own persons (not a label that is always there)
    compulsory = [p for p in pq.read_table(run.parquet_path("persons")).to_pylist() if p["compulsory_age"]]
    in_school = sum(p["status"] in ("IN_SCHOOL", "HOME_TEACHING", "OUT_OF_PROVINCE") for p in compulsory)
    (row,) = [r for r in written.to_pylist() if r["label"] == "义务教育阶段在校率" and r["region"] == "430000"]
    assert (row["numerator"], row["denominator"]) == (in_school, len(compulsory))
    assert row["value"] == pytest.approx(in_school / len(compulsory))


def test_large_classes_are_counted_per_stage_with_compulsory_education_its_own_figure(tmp_path):
    run = build_run(tmp_path / "run", counties=("430121",))
    summary = pq.read_table(run.parquet_path("summary"))
    pq.write_table(summary.filter(pa.compute.not_equal(summary["dimension"], "class_size")), run.parquet_path("summary"))
    lines = ["全国学籍号,姓名,出生日期,学校标识码,学校区划代码,学段,年级,班级,学籍状态,学期"]
    classes = (("小学", "三年级", "1班", 57), ("初中", "七年级", "2班", 66), ("小学", "三年级", "3班", 40),
               ("学前", "大班", "4班", 60), ("中职", "一年级", "5班", 70))
    for stage, grade, cls, pupils in classes:
        for i in range(pupils):
            lines.append(f"L{cls[0]}{i:05d},学生{i},2012-05-01,430121000{cls[0]},430121,{stage},{grade},{cls},在读,2021春")
    enrollment = tmp_path / "enrollment.csv"
    enrollment.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = json.loads((run.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["inputs"] = [{"table": "enrollment", "path": str(enrollment)}]
    (run.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    from yidan.runs.rundir import RunDir

    t = compute_indicators(RunDir(run.path))
    assert indicator_value(t, "large_classes", "430121") == 2  # 57 (小学) and 60 (学前)
    assert indicator_value(t, "large_classes_compulsory", "430121") == 1
    assert indicator_value(t, "very_large_classes_compulsory", "430121") == 1  # 66 (初中); 70 is 中职
    assert indicator_value(t, "large_classes_by_stage", "430121", "学前") == 1
    assert indicator_value(t, "compulsory_classes", "430121") == 3
    (share,) = [r for r in t.to_pylist() if r["indicator"] == "large_class_share" and r["region"] == "430121"]
    assert (share["numerator"], share["denominator"]) == (1, 3) and share["value"] == pytest.approx(1 / 3)
    assert share["basis"] == "义务教育大班额（56–65人） ÷ 义务教育阶段班级数（小学、初中）"
    from python_calamine import CalamineWorkbook

    from yidan.reports.indicators import write_indicator_workbook

    book = write_indicator_workbook(t, RunDir(run.path), tmp_path / "指标.xlsx")
    rows = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("分县").to_python()
    assert rows[0][6:9] == ["分子", "分母", "口径（分子 ÷ 分母）"]
    (row,) = [r for r in rows if r[0] == "义务教育大班额占比"]
    assert row[6:9] == [1, 3, "义务教育大班额（56–65人） ÷ 义务教育阶段班级数（小学、初中）"]
