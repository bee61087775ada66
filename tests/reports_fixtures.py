"""Run directories for the reports tests, written by the pipeline (`run_comparison`) on input rows.

Three counties in two cities. In each county, child `i` is given the input rows (registry, enrollment,
out-of-province check, verifications, payments) that lead to one status, every status in turn
(`STATUS_CODES[(i + shift + county index) % 15]`, so `shift` moves every child's status: a "later" run);
besides its status, a child may carry a finding of the data-quality or aid family (an ID with a wrong check
character, an enrollment under another name, a boarder paid nothing or twice). A test that needs other
statuses gives them as `statuses={index: status}`: the children's input rows change, never the outputs.
Pupils who are not in the registry fill classes of `CLASS_SIZES` pupils (the large-class indicators).

Linkage is the exact-ID stand-in of the rule cases (`conftest.exact_link`) with the review candidate as a
model link in the review band (a probability band cannot be written as rows without depending on the
model's calibration); everything else is the pipeline's. The same inputs run once per test session; each
call gets its own copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from stdnum.cn import ric

import shared_runs
from conftest import add_candidates, exact_link, write_table_csv
from yidan.contract.codes import STATUSES
from yidan.runs.rundir import RunDir

COUNTIES = ("430102", "430121", "430302")  # 芙蓉区, 长沙县 (长沙市); 雨湖区 (湘潭市)
COUNTY_NAMES = {"430102": "芙蓉区", "430121": "长沙县", "430302": "雨湖区"}
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ("小明", "子涵", "欣怡", "浩然", "梓萱", "宇", "婷", "俊杰")
STATUS_CODES = tuple(STATUSES)
TOWNS = ("城关镇", "东山乡")
VILLAGES = ("桃源村", "杨柳村", "新华社区")
CLASS_SIZES = (40, 58, 66, 70)  # pupils per class of the first school of each county (小学三年级)
PROGRAMME = "ZX01"
STANDARD = Decimal("625.00")
POLICIES = [{
    "programme_code": PROGRAMME, "programme_name": "义务教育寄宿生生活补助", "stages": "小学、初中", "boarding_rule": "寄宿",
    "target_categories": "建档立卡、边缘易致贫、农村低保、特困供养", "amount_per_term": str(STANDARD),
    "first_term": "2019秋", "last_term": None, "payer_rule": "学籍地",
}]
# the age (on the term's reference day) a status needs; the rest are of compulsory age
BORN = {"NOT_IN_KINDERGARTEN": 4, "NOT_IN_SCHOOL": 17, "COMPLETED": 16, "NOT_PROGRESSED": 12}
VERIFIED = {"EXEMPT": "因残免学", "ABROAD": "出国"}
ENROLLED = {"IN_SCHOOL": "在读", "HOME_TEACHING": "在读", "SUSPENDED": "休学", "DROPPED_OUT": "辍学",
            "TRANSFER_PENDING": "转出", "DECEASED": "死亡"}


def make_id(county: str, born: date, seq: int) -> str:
    body = f"{county}{born:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder for the check character


def _earlier(term: str) -> str:
    year, season = int(term[:4]), term[4:]
    return f"{year - 1}秋" if season == "春" else f"{year}春"


def _school_year(term: str) -> int:
    return int(term[:4]) - (1 if term.endswith("春") else 0)


def _child(ci: int, county: str, i: int, status: str, term: str) -> dict[str, list[dict[str, Any]]]:
    """The input rows of child `i` of a county, leading to `status`."""
    year = _school_year(term)
    age = BORN.get(status, 6 + i % 9)
    born = date(year - age, 1 + i % 8, 1 + i % 28)  # before 31 August: `age` on the reference day
    pid = make_id(county, born, 100 + i)
    if i % 7 == 3:  # the check character mistyped (K06): the registry keeps the ID, the school has the same
        pid = pid[:17] + ("0" if pid[17] != "0" else "1")
    name = SURNAMES[i % 10] + GIVEN[(i + ci) % len(GIVEN)]
    gender = "男" if i % 2 else "女"
    township = f"{county}{100 + i % 2:03d}"
    village = f"{township}{200 + i % 3:03d}"
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in ("enrollment", "out_of_province", "verifications", "aid")}
    rows["registry"] = [{
        "id_number": pid, "name": name, "gender": gender, "birth_date": born.isoformat(), "hukou_code": village,
        "township_name": TOWNS[i % 2], "village_name": VILLAGES[i % 3], "household_id": f"{county}{i:06d}",
        "relation": "子" if i % 2 else "女", "head_name": SURNAMES[i % 10] + "大山", "category": "建档立卡",
        "poverty_status": ("未脱贫", "已脱贫", "返贫")[i % 3], "recognized_on": "2016-01-01",
        "phone": f"1390731{ci}{i:03d}",
    }]
    boarder = status == "IN_SCHOOL"  # entitled to the programme where enrolled
    enrolled = {"student_no": "G" + pid, "id_number": pid, "name": name, "gender": gender,
                "birth_date": born.isoformat(), "school_code": f"{county}{i % 3:04d}",
                "school_name": f"测试第{i % 3 + 1}小学", "school_county_code": county, "stage": "小学",
                "grade": "三年级", "class_id": "1", "enrollment_status": "在读",
                "boarding": "是" if boarder else "否", "term": term}
    if i % 5 == 2 and status in ENROLLED:  # enrolled under another given name, linked by the ID (K08)
        enrolled["name"] = name[0] + "晓" + name[2:] if name[1:2] != "晓" else name[0] + "小" + name[2:]
    if status in ENROLLED:
        enrolled["enrollment_status"] = ENROLLED[status]
        if status == "HOME_TEACHING":
            enrolled["attendance_mode"] = "送教上门"
        if status != "IN_SCHOOL" and status != "HOME_TEACHING":
            enrolled["status_date"] = f"{term[:4]}-03-01" if term.endswith("春") else f"{term[:4]}-10-01"
        rows["enrollment"].append(enrolled)
    elif status == "COMPLETED":
        rows["enrollment"].append({**enrolled, "stage": "初中", "grade": "九年级", "enrollment_status": "毕业",
                                   "term": _earlier(term)})
    elif status == "NOT_PROGRESSED":
        rows["enrollment"].append({**enrolled, "grade": "六年级", "enrollment_status": "毕业", "term": _earlier(term)})
    elif status == "OUT_OF_PROVINCE":
        rows["out_of_province"].append({"id_number": pid, "name": name, "province": "广东省",
                                        "school_name": "广州市测试小学", "stage": "小学", "enrollment_status": "在读",
                                        "term": term})
    elif status in VERIFIED:
        rows["verifications"].append({"id_number": pid, "name": name, "conclusion": VERIFIED[status],
                                      "verified_on": f"{term[:4]}-03-01", "verified_by": "县核实员"})
    elif status == "REVIEW":  # enrolled without ID; the model's candidate is left to a reviewer (K05)
        rows["enrollment"].append({**enrolled, "id_number": None, "student_no": f"L{county}{i:06d}"})
        rows["candidates"] = [{"person_id": pid, "student_no": f"L{county}{i:06d}", "probability": 0.8,
                               "decision": "review", "name_agrees": True, "gender_agrees": True, "birth_agrees": True}]
    # UNMATCHED, NOT_IN_KINDERGARTEN, NOT_IN_SCHOOL: no enrollment anywhere
    if boarder:  # paid the term's standard, nothing (Z01) or twice (Z02)
        times = (1, 0, 2)[(i // len(STATUS_CODES) + ci) % 3]
        rows["aid"] += [{"id_number": pid, "name": name, "student_no": "G" + pid, "programme_code": PROGRAMME,
                         "term": term, "amount": str(STANDARD), "payer_county_code": county,
                         "paid_on": f"{term[:4]}-04-0{k + 1}"} for k in range(times)]
    return rows


def _classmates(ci: int, county: str, term: str) -> list[dict[str, Any]]:
    """Pupils of the county's first school who are not in the registry: classes of CLASS_SIZES pupils."""
    out = []
    for c, size in enumerate(CLASS_SIZES):
        for k in range(size):
            out.append({"student_no": f"L{county}9{c}{k:03d}", "id_number": None, "name": f"同学{c}{k}",
                        "gender": "男", "birth_date": "2012-05-01", "school_code": f"{county}0900",
                        "school_name": "测试中心小学", "school_county_code": county, "stage": "小学", "grade": "三年级",
                        "class_id": f"{c + 1}班", "enrollment_status": "在读", "boarding": "否", "term": term})
    return out


def _run(counties: tuple[str, ...], n: int, shift: int, term: str, statuses: dict[int, str], out: Path) -> Path:
    from yidan.identity.terms import parse_term
    from yidan.pipeline import steps as S
    from yidan.pipeline.context import RunInputs, Step
    from yidan.pipeline.run import run_comparison
    from yidan.settings import RunConfig

    tables: dict[str, list[dict[str, Any]]] = {}
    for ci, county in enumerate(counties):
        for i in range(n):
            status = statuses.get(i, STATUS_CODES[(i + shift + ci) % len(STATUS_CODES)])
            for table, rows in _child(ci, county, i, status, term).items():
                tables.setdefault(table, []).extend(rows)
        tables.setdefault("enrollment", []).extend(_classmates(ci, county, term))
    candidates = tables.pop("candidates", [])
    folder = out.parent / "input"
    folder.mkdir(parents=True, exist_ok=True)
    files = {t: write_table_csv(folder, t, rows) for t, rows in tables.items() if rows}
    files["policies"] = write_table_csv(folder, "policies", POLICIES)

    def load(ctx: Any) -> None:
        S.LOAD.run(ctx)
        ctx.notes["_candidates"] = candidates

    def link(ctx: Any) -> None:
        exact_link(ctx)
        ctx.notes["_candidates"] = candidates
        add_candidates(ctx)

    rest = [s for s in S.STEPS if s.name not in ("load", "persons_base") and not s.name.startswith("link")]
    steps = [Step("load", "读取输入文件", load), S.PERSONS, Step("link", "身份匹配（测试用精确匹配）", link), *rest]
    inputs = RunInputs(registry=files["registry"], enrollment=files["enrollment"],
                       out_of_province=files.get("out_of_province", []), verifications=files.get("verifications", []),
                       aid=files.get("aid", []), policies=files["policies"])
    return run_comparison(inputs, term=parse_term(term), out_dir=out, config=RunConfig(),
                          audit_terms=[parse_term(term)], steps=steps).path


def build_run(
    path: Path, *, run_id: str = "R2021春-1", term: str = "2021春", n_per_county: int = 30, shift: int = 0,
    made_at: str = "2021-03-01T10:00:00", counties: tuple[str, ...] = COUNTIES, statuses: dict[int, str] | None = None,
) -> RunDir:
    """A run directory written by the pipeline on the children's input rows, copied to `path`.

    `shift` moves every child's status (a 'later' run); `statuses` gives child `i` of every county another
    status (by its input rows). The manifest names the run `run_id`, made at `made_at`."""
    statuses = dict(statuses or {})
    key = hashlib.sha256(json.dumps([list(counties), n_per_county, shift, term, sorted(statuses.items())],
                                    ensure_ascii=False).encode()).hexdigest()
    # once per test session by its inputs, whichever xdist worker asks first (tests/shared_runs.py)
    run = shared_runs.once(f"report-run-{key[:16]}",
                           lambda folder: _run(tuple(counties), n_per_county, shift, term, statuses, folder / "run"))
    if path.exists():
        shutil.rmtree(path)
    shutil.copytree(run, path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(run_id=run_id, started_at=made_at, finished_at=made_at)
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return RunDir(path)


def person_ids(run: RunDir, county: str) -> list[str]:
    """The registry children of a county, in the order they were written (child 0 first)."""
    rows = [p for p in pq.read_table(run.parquet_path("persons")).to_pylist() if p["hukou_county"] == county]
    return [p["person_id"] for p in sorted(rows, key=lambda p: int(p["person_id"][14:17]))]
