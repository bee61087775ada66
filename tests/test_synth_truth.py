"""The ground truth agrees with the files it describes (stdnum and pypinyin as outside oracles)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pypinyin import Style, lazy_pinyin
from python_calamine import CalamineWorkbook
from stdnum.cn import ric

from yidan.contract.codes import FINDING_CODES, STATUSES
from yidan.synth import generate
from yidan.synth.faults import CASES


def _valid(value: str) -> bool:
    try:
        return bool(ric.is_valid(value))
    except Exception:  # noqa: BLE001 - stdnum raises KeyError for unknown counties
        return False


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny_truth")
    generate("tiny", 21, out)
    return out


@pytest.fixture(scope="module")
def registry(tiny: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((tiny / "registry.csv").read_bytes().decode("gb18030"))))


@pytest.fixture(scope="module")
def enrollment(tiny: Path) -> list[dict[str, str]]:
    rows = CalamineWorkbook.from_path(str(tiny / "enrollment.xlsx")).get_sheet_by_index(0).to_python()
    return [dict(zip(rows[1], r, strict=True)) for r in rows[2:]]


@pytest.fixture(scope="module")
def truth(tiny: Path) -> dict[str, list[dict]]:
    return {n: pq.read_table(tiny / "truth" / f"{n}.parquet").to_pylist()
            for n in ("persons", "links", "findings", "rejects")}


@pytest.fixture(scope="module")
def meta(tiny: Path) -> dict:
    return json.loads((tiny / "generated.json").read_text(encoding="utf-8"))


def test_every_truth_link_points_to_an_existing_student_no(truth, enrollment) -> None:
    student_nos = {r["全国学籍号"] for r in enrollment}
    assert truth["links"]
    assert all(link["student_no"] in student_nos for link in truth["links"])


def test_every_truth_link_points_to_a_registry_person(truth) -> None:
    persons = {p["person_id"] for p in truth["persons"]}
    assert truth["links"] and all(link["person_id"] in persons for link in truth["links"])


def test_registry_ids_fail_stdnum_exactly_where_a_fault_was_injected(registry, truth) -> None:
    by_id = {p["person_id"]: p for p in truth["persons"]}
    damaged = {"registry_id_typo", "registry_id_transposition", "invalid_registry_id", "registry_legacy_15",
               "registry_legacy_15_child", "registry_excel_mangled"}
    mangled_rows = {r["row_number"] for r in truth["rejects"]}
    for line, row in enumerate(registry, start=2):
        value = row["身份证号"].upper()
        person = by_id.get(value) or by_id.get(_to18(value))
        fault = "registry_excel_mangled" if line in mangled_rows else (person or {}).get("fault")
        assert _valid(value) == (fault not in damaged), (line, value, fault)


def _to18(value: str) -> str:
    if len(value) != 15:
        return value
    body = value[:6] + "19" + value[6:]
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder check character


def test_enrollment_ids_fail_stdnum_exactly_where_a_fault_was_injected(enrollment, truth) -> None:
    fault_of = {link["student_no"]: link["fault"] for link in truth["links"]}
    damaged = {"enrollment_id_typo", "enrollment_id_transposition"}
    for row in enrollment:
        if not row["身份证号"]:
            assert row["全国学籍号"].startswith("L")
            continue
        assert _valid(row["身份证号"]) == (fault_of.get(row["全国学籍号"]) not in damaged), row


def test_injected_counts_in_generated_json_match_the_truth(truth, meta, registry) -> None:
    counted = Counter(p["fault"] for p in truth["persons"] if p["fault"])
    for case in CASES[1:]:
        assert counted[case.tag] == meta["faults"][case.tag], case.tag
    # adults' legacy IDs, and the children whose registry ID was written in the 15-digit form
    assert sum(len(r["身份证号"]) == 15 for r in registry) == (
        meta["faults"]["registry_legacy_15"] + meta["faults"]["registry_legacy_15_child"])
    assert len(truth["rejects"]) == meta["faults"]["registry_excel_mangled"]


def test_tiny_preset_holds_every_case_at_least_once(meta) -> None:
    assert all(meta["faults"][c.tag] >= 1 for c in CASES[1:])


def test_truth_holds_every_finding_code_a_generator_can_know(truth) -> None:
    # K05 (review band) depends on the linkage model's scores: no generator can know it in advance
    expected = set(FINDING_CODES) - {"K05"}
    assert {f["code"] for f in truth["findings"]} == expected


def test_schooling_findings_are_only_for_compulsory_age_children(truth) -> None:
    compulsory = {p["person_id"]: p["compulsory_age"] for p in truth["persons"]}
    k = [f for f in truth["findings"] if f["code"].startswith("K")]
    assert k and all(compulsory[f["person_id"]] for f in k)


def test_finding_keys_are_code_term_programme_person(truth) -> None:
    for f in truth["findings"]:
        assert f["finding_key"] == f"{f['code']}|{f['term']}|{f['programme_code'] or '-'}|{f['person_id']}"


def test_statuses_are_contract_codes_for_school_age_only(truth) -> None:
    for p in truth["persons"]:
        assert (p["status"] in STATUSES) if p["in_school_age"] else p["status"] is None


def test_ages_are_whole_years_on_31_august_2020(truth) -> None:
    for p in truth["persons"]:
        b = date(int(p["true_id"][6:10]), int(p["true_id"][10:12]), int(p["true_id"][12:14]))
        assert p["age"] == 2020 - b.year - ((b.month, b.day) > (8, 31))


def test_same_name_stranger_shares_name_birth_gender_county_but_not_the_id(truth, registry, enrollment) -> None:
    reg = {r["身份证号"].upper(): r for r in registry}
    strangers = [p for p in truth["persons"] if p["fault"] == "same_name_stranger"]
    assert strangers
    for p in strangers:
        r = reg[p["person_id"]]
        twins = [e for e in enrollment if e["姓名"] == r["姓名"] and e["性别"] == r["性别"]
                 and e["出生日期"] == p["true_id"][6:10] + "-" + p["true_id"][10:12] + "-" + p["true_id"][12:14]
                 and e["学校区划代码"] == p["hukou_county"]]
        assert twins and all(e["身份证号"] != p["true_id"] and _valid(e["身份证号"]) for e in twins)


def test_homophone_names_read_the_same_in_pinyin(truth, registry, enrollment) -> None:
    name_of = {r["身份证号"].upper(): r["姓名"] for r in registry}
    homo = {link["student_no"]: link["person_id"] for link in truth["links"]
            if link["fault"] == "enrollment_missing_id_homophone"}
    rows = [e for e in enrollment if e["全国学籍号"] in homo]
    assert rows
    for e in rows:
        reg_name = name_of[homo[e["全国学籍号"]]]
        assert e["姓名"] != reg_name
        assert lazy_pinyin(e["姓名"], style=Style.NORMAL) == lazy_pinyin(reg_name, style=Style.NORMAL)


def test_twins_share_household_and_birth_date_but_not_name_or_id(registry, truth) -> None:
    twin_ids = {p["person_id"] for p in truth["persons"] if p["fault"] == "twin"}
    by_household: dict[str, list[dict]] = {}
    for r in registry:
        if r["身份证号"].upper() in twin_ids:
            by_household.setdefault(r["户编号"], []).append(r)
    assert by_household
    for members in by_household.values():
        assert len({m["身份证号"][6:14] for m in members}) < len(members)
        assert len({m["姓名"] for m in members}) == len(members)


def test_a_split_payment_sums_to_the_standard_and_is_no_finding(tiny, truth) -> None:
    split = {p["person_id"] for p in truth["persons"] if p["fault"] == "aid_split"}
    rows = [r for r in csv.DictReader(io.StringIO((tiny / "aid.csv").read_text(encoding="utf-8")))
            if r["身份证号"] in split and r["学期"] == "2021春"]
    # a graded programme's standard is the grade written on the payment (both parts name the same)
    policies = {(r["项目代码"], r["档次"]): r["每学期标准"]
                for r in csv.DictReader(io.StringIO((tiny / "policies.csv").read_text(encoding="utf-8")))}
    assert len(rows) == 2 and rows[0]["档次"] == rows[1]["档次"]
    assert sum(float(r["金额"]) for r in rows) == float(policies[rows[0]["资助项目代码"], rows[0]["档次"]])
    assert not [f for f in truth["findings"] if f["person_id"] in split]
