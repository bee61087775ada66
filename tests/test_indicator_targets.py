"""The declared indicators with targets (巩固率, 毛入园率, 普惠率, 公办园占比, 班额, 控辍, 送教上门, 特教学校).

Every figure comes from input rows run through the real pipeline (registry, enrollment and the optional
schools, classes and population tables); the expected values are counted by hand from those rows below.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

import shared_runs
from conftest import write_table_csv
from yidan.reports.indicator_targets import compute_targets, not_computed, value_of
from yidan.settings import IndicatorConfig

A, B, C = "430124", "430521", "430181"  # 宁乡 and 浏阳 (长沙, 4301), 邵东 (邵阳, 4305)
TERM = "2021春"  # school year 2020; the cohort's first grade was in school year 2012


def pid(county: str, birth: date, seq: int) -> str:
    body = f"{county}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def school(county: str, n: int) -> str:
    return f"{county}{n:04d}"


def child(county: str, seq: int, name: str, *, poverty: str = "已脱贫", disability: str | None = None,
          birth: date = date(2010, 3, 1)) -> dict[str, Any]:
    return {"id_number": pid(county, birth, seq), "name": name, "birth_date": birth.isoformat(),
            "hukou_code": f"{county}101201", "category": "建档立卡", "poverty_status": poverty,
            "recognized_on": "2016-01-01", "disability": disability}


def enrolled(reg: dict[str, Any], county: str, *, status: str = "在读", mode: str | None = None,
             term: str = TERM, stage: str = "小学", grade: str = "五年级", school_no: int = 1) -> dict[str, Any]:
    return {"student_no": "G" + reg["id_number"], "id_number": reg["id_number"], "name": reg["name"],
            "birth_date": reg["birth_date"], "school_code": school(county, school_no), "school_county_code": county,
            "stage": stage, "grade": grade, "class_id": "1", "enrollment_status": status,
            "attendance_mode": mode, "term": term}


def pupil(no: str, county: str, school_no: int, stage: str, grade: str, term: str = TERM,
          status: str = "在读", birth: str = "2016-05-01") -> dict[str, Any]:
    """A pupil outside the registry, under a temporary number."""
    return {"student_no": "L" + no.rjust(10, "0"), "name": f"学生{no}", "birth_date": birth, "school_code": school(county, school_no),
            "school_county_code": county, "stage": stage, "grade": grade, "class_id": "1",
            "enrollment_status": status, "term": term}


def run_pipeline(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> Any:
    from yidan.identity.terms import parse_term
    from yidan.pipeline.context import RunInputs
    from yidan.pipeline.run import run_comparison
    from yidan.settings import RunConfig

    folder.mkdir(parents=True)
    files = {t: write_table_csv(folder, t, rows) for t, rows in tables.items()}
    inputs = RunInputs(registry=files["registry"], enrollment=files["enrollment"],
                       schools=files.get("schools", []), classes=files.get("classes", []),
                       population=files.get("population", []))
    return run_comparison(inputs, term=parse_term(TERM), out_dir=folder / "run", config=RunConfig())


# County A's registry children: in school, dropped out, dead, home-taught (disabled), disabled and nowhere
A_KIDS = {
    "in_school": child(A, 1, "甲一"),
    "dropout": child(A, 2, "甲二"),
    "dead": child(A, 3, "甲三"),
    "home": child(A, 4, "甲四", disability="肢体"),
    "nowhere": child(A, 5, "甲五", poverty="未脱贫", disability="智力"),
}
B_KID = child(B, 1, "乙一")


def full_tables() -> dict[str, list[dict[str, Any]]]:
    k = A_KIDS
    enrollment = [
        enrolled(k["in_school"], A), enrolled(k["dropout"], A, status="辍学"),
        enrolled(k["dead"], A, status="死亡"), enrolled(k["home"], A, mode="送教上门"),
        enrolled(B_KID, B),
    ]
    # kindergarten children of this term: A 3 公办 (school 11), 2 普惠性民办 (12), 5 非普惠 (13), 1 in an
    # unlisted kindergarten (14); B 4 公办 (11)
    n = 0
    for county, school_no, count in ((A, 11, 3), (A, 12, 2), (A, 13, 5), (A, 14, 1), (B, 11, 4)):
        for _ in range(count):
            n += 1
            enrollment.append(pupil(f"K{n:05d}", county, school_no, "学前", "中班"))
    # the cohort of A: four first-graders in 2012秋; s1 in 九年级 at home, s2 moved to B's junior school,
    # s3 left, s4 died in 2016; s5 moved in from outside the province (no first-grade row here)
    for no in ("S1", "S2", "S3", "S4"):
        enrollment.append(pupil(no, A, 1, "小学", "一年级", term="2012秋", birth="2006-05-01"))
    enrollment.append(pupil("S4", A, 1, "小学", "五年级", term="2016秋", status="死亡", birth="2006-05-01"))
    enrollment.append(pupil("S1", A, 2, "初中", "九年级", term="2020秋", birth="2006-05-01"))
    enrollment.append(pupil("S2", B, 2, "初中", "九年级", term="2020秋", birth="2006-05-01"))
    enrollment.append(pupil("S5", A, 2, "初中", "九年级", term="2020秋", birth="2006-05-01"))
    schools = [
        {"school_code": school(A, 1), "school_name": "甲小学", "county_code": A, "stage": "小学", "ownership": "公办"},
        {"school_code": school(A, 2), "school_name": "甲中学", "county_code": A, "stage": "初中", "ownership": "公办"},
        {"school_code": school(A, 11), "school_name": "甲公办园", "county_code": A, "stage": "学前",
         "ownership": "公办", "kindergarten_type": "公办"},
        {"school_code": school(A, 12), "school_name": "甲普惠园", "county_code": A, "stage": "学前",
         "ownership": "民办", "kindergarten_type": "普惠性民办"},
        {"school_code": school(A, 13), "school_name": "甲民办园", "county_code": A, "stage": "学前",
         "ownership": "民办", "kindergarten_type": "非普惠"},
        {"school_code": school(A, 20), "school_name": "甲特校", "county_code": A, "stage": "特教", "special": "是"},
        {"school_code": school(B, 11), "school_name": "乙公办园", "county_code": B, "stage": "学前",
         "ownership": "公办", "kindergarten_type": "公办"},
        {"school_code": school(B, 20), "school_name": "乙特校", "county_code": B, "stage": "特教", "special": "是",
         "state": "撤并", "closed_on": "2019-07-01"},
        {"school_code": school(B, 1), "school_name": "乙小学", "county_code": B, "stage": "小学", "ownership": "公办"},
        {"school_code": school(C, 2), "school_name": "丙中学", "county_code": C, "stage": "初中", "ownership": "公办"},
    ]

    def cls(code: str, year: int, grade: str, name: str, pupils: int) -> dict[str, Any]:
        return {"school_code": code, "school_year": year, "grade": grade, "class_id": name, "pupils": pupils}

    classes = [
        # A, 2020: compulsory classes of 45, 56, 65, 66, 40, 38 -> 2 large (56, 65), 1 very large (66)
        cls(school(A, 1), 2020, "一年级", "1班", 45), cls(school(A, 1), 2020, "一年级", "2班", 56),
        cls(school(A, 1), 2020, "二年级", "1班", 65), cls(school(A, 1), 2020, "三年级", "1班", 66),
        cls(school(A, 2), 2020, "九年级", "1班", 40), cls(school(A, 2), 2020, "九年级", "2班", 38),
        # A's kindergarten classes: 26 > 25, 30 = 30, 36 > 35 -> 2 of 3 over the standard
        cls(school(A, 11), 2020, "小班", "1班", 26), cls(school(A, 11), 2020, "中班", "1班", 30),
        cls(school(A, 11), 2020, "大班", "1班", 36),
        # A's first grade of 2012 (ignored: A's cohort is traced in the enrollment history)
        cls(school(A, 1), 2012, "一年级", "1班", 50),
        # B: 40 first-graders in 2012, 30 in 九年级 in 2020 -> 0.75 from the class counts
        cls(school(B, 1), 2012, "一年级", "1班", 40), cls(school(B, 2), 2020, "九年级", "1班", 30),
        # C: a 2020 九年级 class but no 2012 first grade: a missing year, no 巩固率 for C
        cls(school(C, 2), 2020, "九年级", "1班", 35),
    ]
    population = [
        # A: 常住 10 + 10 + 2 = 22 children aged 3–5 in 2020 (户籍 figures are ignored when 常住 exist)
        {"county_code": A, "year": 2020, "age": 3, "basis": "常住", "people": 10},
        {"county_code": A, "year": 2020, "age": 4, "basis": "常住", "people": 10},
        {"county_code": A, "year": 2020, "age": 5, "basis": "常住", "people": 2},
        {"county_code": A, "year": 2020, "age": 4, "basis": "户籍", "people": 30},
        {"county_code": A, "year": 2020, "age": 6, "basis": "常住", "people": 99},
        {"county_code": A, "year": 2019, "age": 4, "basis": "常住", "people": 99},
        # B: a population of zero children aged 3–5
        {"county_code": B, "year": 2020, "age": 3, "basis": "户籍", "people": 0},
    ]
    return {"registry": [*A_KIDS.values(), B_KID], "enrollment": enrollment, "schools": schools,
            "classes": classes, "population": population}


def full_run() -> Any:
    """The run of `full_tables()` (RunDir), once per test session (test_web_indicators publishes it too);
    read it, never write into it."""
    return shared_runs.once("indicator-full", lambda folder: run_pipeline(folder / "full", full_tables()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("targets")
    full = full_run()
    # the previous round: registry and enrollment only, A's one child in school
    bare = run_pipeline(base / "bare", {"registry": [A_KIDS["in_school"]],
                                        "enrollment": [enrolled(A_KIDS["in_school"], A)]})
    return {"full": full, "bare": bare, "table": compute_targets(full, previous=bare)}


def test_registry_statuses_are_what_the_rows_say(runs: dict[str, Any]) -> None:
    got = {r["name"]: r["status"] for r in pq.read_table(runs["full"].parquet_path("persons")).to_pylist()}
    assert got["甲一"] == "IN_SCHOOL" and got["甲二"] == "DROPPED_OUT" and got["甲三"] == "DECEASED"
    assert got["甲四"] == "HOME_TEACHING" and got["甲五"] == "UNMATCHED"


def test_in_school_rate_leaves_the_dead_out_and_counts_home_teaching(runs: dict[str, Any]) -> None:
    t = runs["table"]
    # A: in school 甲一 and 甲四 of 甲一, 甲二, 甲四, 甲五 (甲三 dead, out of the denominator)
    assert value_of(t, "registered_in_school_rate", A) == pytest.approx(2 / 4)
    assert value_of(t, "registered_in_school_rate", "430000") == pytest.approx(3 / 5)
    assert value_of(t, "unlifted_out_of_school", A) == 1  # 甲五 (未脱贫); 甲二 has left poverty
    assert value_of(t, "home_teaching_coverage", A) == pytest.approx(1 / 2)  # 甲四 of 甲四, 甲五


def test_gap_and_change_since_the_previous_round(runs: dict[str, Any]) -> None:
    row = next(r for r in runs["table"].to_pylist() if r["code"] == "registered_in_school_rate" and r["region"] == A)
    assert (row["target"], row["target_year"]) == (1.0, 2020)
    assert row["gap"] == pytest.approx(0.5)  # 50 points short of 100 %
    assert row["previous"] == pytest.approx(1.0) and row["change"] == pytest.approx(-0.5)
    large = next(r for r in runs["table"].to_pylist() if r["code"] == "large_class_rate" and r["region"] == A)
    assert large["gap"] == pytest.approx(2 / 6)  # lower is better: the gap is the share above 0


def test_kindergarten_coverage_by_type(runs: dict[str, Any]) -> None:
    t = runs["table"]
    assert value_of(t, "inclusive_kindergarten_coverage", A) == pytest.approx(5 / 11)
    assert value_of(t, "public_kindergarten_share", A) == pytest.approx(3 / 11)
    assert value_of(t, "public_kindergarten_share", B) == pytest.approx(1.0)
    assert value_of(t, "public_kindergarten_share", "430000") == pytest.approx(7 / 15)


def test_gross_enrolment_prefers_resident_population_and_a_zero_population_has_no_rate(runs: dict[str, Any]) -> None:
    t = runs["table"]
    assert value_of(t, "preschool_gross_enrolment", A) == pytest.approx(11 / 22)
    row = next(r for r in t.to_pylist() if r["code"] == "preschool_gross_enrolment" and r["region"] == B)
    assert row["value"] is None and row["denominator"] == 0 and "分母为 0" in row["note"]
    assert value_of(t, "preschool_gross_enrolment", "430000") == pytest.approx(15 / 22)


def test_class_sizes_from_the_classes_table(runs: dict[str, Any]) -> None:
    t = runs["table"]
    assert value_of(t, "large_class_rate", A) == pytest.approx(2 / 6)
    assert value_of(t, "very_large_class_rate", A) == pytest.approx(1 / 6)
    assert value_of(t, "kindergarten_oversize_rate", A) == pytest.approx(2 / 3)
    assert value_of(t, "large_class_rate", B) == pytest.approx(0.0)


def test_consolidation_traces_the_cohort_and_falls_back_to_class_counts(runs: dict[str, Any]) -> None:
    t = runs["table"]
    # A: S1 and S2 (moved to B) of S1, S2, S3; S4 died; S5 moved in and was never A's first-grader
    assert value_of(t, "consolidation", A) == pytest.approx(2 / 3)
    assert value_of(t, "consolidation", B) == pytest.approx(30 / 40)
    assert value_of(t, "consolidation", C) is None  # no first grade of 2012: no figure rather than a wrong one
    assert value_of(t, "consolidation", "430000") == pytest.approx((2 + 30) / (3 + 40))


def test_special_school_coverage_counts_counties_with_an_open_school(runs: dict[str, Any]) -> None:
    t = runs["table"]
    assert value_of(t, "special_school_county_coverage", A) == 1.0
    assert value_of(t, "special_school_county_coverage", B) == 0.0  # its school closed
    assert value_of(t, "special_school_county_coverage", "430000") == pytest.approx(1 / 3)
    assert value_of(t, "special_school_county_coverage", "430100") == pytest.approx(1 / 2)


def test_a_run_without_the_optional_tables_says_what_it_could_not_compute(runs: dict[str, Any]) -> None:
    t = compute_targets(runs["bare"])
    missing = not_computed(t)
    assert set(missing) >= {"preschool_gross_enrolment", "inclusive_kindergarten_coverage",
                            "public_kindergarten_share", "special_school_county_coverage", "consolidation"}
    assert "人口表（population）" in missing["preschool_gross_enrolment"]
    assert "学校（园）名录（schools）" in missing["special_school_county_coverage"]
    assert value_of(t, "registered_in_school_rate", A) == 1.0  # what the inputs allow is still there
    manifest = json.loads((runs["bare"].path / "manifest.json").read_text(encoding="utf-8"))
    assert "人口表" in manifest["indicators"]["preschool_gross_enrolment"]
    assert manifest["indicators"]["registered_in_school_rate"] is None


def test_targets_and_class_standards_come_from_settings(runs: dict[str, Any]) -> None:
    cfg = IndicatorConfig.model_validate({"targets": {"consolidation": {"value": 0.5, "year": 2030}},
                                          "kindergarten_class_limits": {"小班": 20, "中班": 20, "大班": 40}})
    t = compute_targets(runs["full"], config=cfg)
    row = next(r for r in t.to_pylist() if r["code"] == "consolidation" and r["region"] == A)
    assert (row["target"], row["target_year"]) == (0.5, 2030) and row["gap"] == pytest.approx(0.5 - 2 / 3)
    assert value_of(t, "kindergarten_oversize_rate", A) == pytest.approx(2 / 3)  # 26 > 20, 30 > 20, 36 <= 40


def test_generated_province_yields_each_indicator_within_its_injected_truth(tiny_dataset: Any, tiny_run: Any) -> None:
    """The generator writes schools, classes and population with the truth counted from what it drew."""
    truth = pq.read_table(tiny_dataset.out / "truth" / "indicators.parquet").to_pylist()
    got = compute_targets(tiny_run)
    assert not not_computed(got)  # every input table given: every indicator computed
    checked = 0
    for t in truth:
        value = value_of(got, t["code"], t["county"])
        if t["value"] is None:
            assert value is None, t
            continue
        # rows the ingest refuses (the generator's injected ID faults) may move a rate by a little
        assert value == pytest.approx(t["value"], abs=0.02), t
        checked += 1
    assert {t["code"] for t in truth} >= {"consolidation", "preschool_gross_enrolment", "large_class_rate",
                                          "inclusive_kindergarten_coverage", "special_school_county_coverage"}
    assert checked >= 16


def test_report_form_from_the_cli_has_one_row_per_county_with_the_truths_figures(
        tiny_dataset: Any, tiny_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    from conftest import run_yidan

    out = tmp_path / "ind"
    code, screen = run_yidan(monkeypatch, capsys, ["indicators", str(tiny_run.path), "--out", str(out),
                                                   "--boundaries", str(tiny_dataset.out / "boundaries.geojson")])
    assert code == 0, screen
    ws = load_workbook(out / f"指标报表_{TERM}.xlsx")["报表"]
    header = [c.value for c in ws[4]]
    rows = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True) if r[2] == "县"}
    truth = pq.read_table(tiny_dataset.out / "truth" / "indicators.parquet").to_pylist()
    counties = {t["county"] for t in truth}
    assert counties <= set(rows)
    from yidan.reports.indicator_defs import BY_CODE

    for t in truth:
        cell = rows[t["county"]][header.index(BY_CODE[t["code"]].name)]
        assert cell == pytest.approx(t["value"], abs=0.02), t
    assert tiny_run.run_id in str(ws["A2"].value)
    svg = (out / "maps" / "consolidation.svg").read_text(encoding="utf-8")
    assert sorted(c for c in counties if f'data-region="{c}"' in svg) == sorted(counties)
    assert svg.count('class="region"') == len(counties)


def test_a_boundaries_file_that_is_not_geojson_is_refused_in_chinese(tiny_run: Any, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import run_yidan

    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"properties": {"name": "x"}}]}', encoding="utf-8")
    code, screen = run_yidan(monkeypatch, capsys, ["indicators", str(tiny_run.path), "--out", str(tmp_path / "o"),
                                                   "--boundaries", str(bad)])
    assert code == 2 and "县界文件中没有带6位区划代码的面要素" in screen and "Traceback" not in screen
    assert not (tmp_path / "o" / f"指标报表_{TERM}.xlsx").exists()


def test_report_with_indicators_fills_the_same_form(tiny_dataset: Any, tiny_run: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    from conftest import run_yidan

    out = tmp_path / "report"
    code, screen = run_yidan(monkeypatch, capsys, ["report", str(tiny_run.path), "--out", str(out), "--level",
                                                   "province", "--no-charts", "--indicators"])
    assert code == 0, screen
    assert "指标报表" in screen and "11 项指标" in screen
    ws = load_workbook(out / f"指标报表_{TERM}.xlsx")["报表"]
    counties = {t["county"] for t in pq.read_table(tiny_dataset.out / "truth" / "indicators.parquet").to_pylist()}
    assert counties <= {r[0] for r in ws.iter_rows(min_row=5, values_only=True) if r[2] == "县"}


def test_input_files_gone_since_the_run_are_named_not_counted_as_zero(runs: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from yidan.runs.rundir import RunDir

    moved = tmp_path / "run"
    shutil.copytree(runs["full"].path, moved)
    manifest = json.loads((moved / "manifest.json").read_text(encoding="utf-8"))
    for f in manifest["inputs"]:
        if f["table"] == "enrollment":
            f["path"] = str(tmp_path / "elsewhere" / "enrollment.csv")
    (moved / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    missing = not_computed(compute_targets(RunDir(moved)))
    assert "比对时的输入文件已不在原处：enrollment" in missing["public_kindergarten_share"]
    assert "registered_in_school_rate" not in missing  # from the run's own outputs
