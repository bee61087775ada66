"""A small run directory in the contract's shape, for the reports tests.

Three counties in two cities; every status and every finding code occurs. The
summary is derived from the persons and findings written here, the way the pipeline
derives it; the tests then read the files back independently of the reports code.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
from stdnum.cn import ric

from yidan.contract.codes import FINDING_CODES, STATUSES
from yidan.contract.outputs import FINDINGS, LINKS, NEXT_STEPS, PERSONS, REJECTS, SUMMARY
from yidan.runs.rundir import RunDir

COUNTIES = ("430102", "430121", "430302")  # 芙蓉区, 长沙县 (长沙市); 雨湖区 (湘潭市)
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ("小明", "子涵", "欣怡", "浩然", "梓萱", "宇", "婷", "俊杰")
STATUS_CODES = tuple(STATUSES)


def make_id(county: str, born: date, seq: int) -> str:
    body = f"{county}{born:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder for the check character


def _persons(county_index: int, county: str, n: int, shift: int) -> list[dict]:
    out = []
    for i in range(n):
        born = date(2006 + i % 12, 1 + i % 12, 1 + i % 28)
        age = 2020 - born.year - (1 if (born.month, born.day) > (8, 31) else 0)
        status = STATUS_CODES[(i + shift + county_index) % len(STATUS_CODES)]
        out.append(
            {
                "person_id": make_id(county, born, 100 + i),
                "name": SURNAMES[i % 10] + GIVEN[(i + county_index) % len(GIVEN)],
                "gender": "男" if i % 2 else "女",
                "birth_date": born,
                "age": age,
                "hukou_county": county,
                "category": "建档立卡",
                "compulsory_age": 6 <= age <= 15,
                "status": status,
                "status_label": STATUSES[status],
                "match_method": "id" if status != "UNMATCHED" else "none",
                "match_probability": 1.0 if status != "UNMATCHED" else None,
                "student_no": None,
                "school_code": f"{county}{i % 3:04d}",
                "school_county": county,
                "stage": "小学",
                "grade": "三年级",
                "boarding": "否",
                "age_group": "学前" if age < 6 else "高中阶段" if age > 15 else "义务教育",
                "household_id": f"{county}{i:06d}",
                "head_name": SURNAMES[i % 10] + "大山",
                "relation": "子" if i % 2 else "女",
                "phone": f"1390731{i:04d}",
                "poverty_status": ("未脱贫", "已脱贫", "返贫")[i % 3],
                "county_name": {"430102": "芙蓉区", "430121": "长沙县", "430302": "雨湖区"}.get(county),
                "township_name": TOWNS[i % 2],
                "village_name": VILLAGES[i % 3],
                "hukou_township": county + f"{100 + i % 2:03d}",
                "hukou_village": county + f"{100 + i % 2:03d}{200 + i % 3:03d}",
                "school_name": f"测试第{i % 3 + 1}小学",
                "class_id": "三年级1班",
                "enrollment_status": "在读",
            }
        )
    return out


TOWNS = ("城关镇", "东山乡")
VILLAGES = ("桃源村", "杨柳村", "新华社区")
HOUSEHOLD_KEYS = ("household_id", "head_name", "relation", "phone", "category", "poverty_status", "county_name",
                  "township_name", "village_name", "school_name", "stage", "grade", "class_id",
                  "enrollment_status", "age", "age_group")


def _findings(persons: list[dict], term: str, shift: int) -> list[dict]:
    codes = list(FINDING_CODES)
    out = []
    for i, p in enumerate(persons):
        for j in range(1 + i % 2):  # some children have two findings
            code = codes[(i + shift + 5 * j) % len(codes)]
            aid = code.startswith("Z")
            prog = "ZX01" if aid else None
            expected = Decimal("625.00") if aid else None
            paid = (Decimal("0.00") if code == "Z01" else Decimal("1250.00") if code == "Z02" else expected)
            out.append(
                {
                    "finding_key": f"{code}|{term}|{prog or '-'}|{p['person_id']}",  # the contract's form
                    "code": code,
                    "label": FINDING_CODES[code].label,
                    "person_id": p["person_id"],
                    "name": p["name"],
                    "term": term,
                    "programme_code": prog,
                    "county": p["hukou_county"],
                    "township": p["hukou_county"] + f"{100 + i % 2:03d}",
                    "village": p["hukou_county"] + f"{100 + i % 2:03d}{200 + i % 3:03d}",
                    "school_code": p["school_code"],
                    "amount_expected": expected,
                    "amount_paid": paid,
                    "detail": f"{FINDING_CODES[code].when}（测试）",
                    "evidence": json.dumps({"registry": {"person_id": p["person_id"], "name": p["name"]},
                                            "enrollment": {"school_name": p["school_name"],
                                                           "school_code": p["school_code"]}},
                                           ensure_ascii=False),
                    "family": FINDING_CODES[code].family,
                    "next_step": NEXT_STEPS[code],
                    **{k: p[k] for k in HOUSEHOLD_KEYS},
                }
            )
    return out


def _summary(persons: list[dict], findings: list[dict], term: str) -> list[dict]:
    counts: dict[tuple[str, str, str], int] = {}
    for p in persons:
        k = ("status", p["hukou_county"], p["status"])
        counts[k] = counts.get(k, 0) + 1
    for f in findings:
        k = ("finding", f["county"], f["code"])
        counts[k] = counts.get(k, 0) + 1
    out = [
        {"dimension": d, "county": c, "key": k, "term": term, "count": n,
         "amount_expected": None, "amount_paid": None, "amount_missed": None,
         "amount_duplicate": None, "amount_wrong": None}
        for (d, c, k), n in sorted(counts.items())
    ]
    detail: dict[tuple, int] = {}  # the pipeline's status_detail: by township, village, age and group
    for p in persons:
        k = (p["hukou_county"], p.get("hukou_township"), p.get("hukou_village"), p["status"], p.get("age_group"),
             p["category"], p.get("poverty_status"))
        detail[k] = detail.get(k, 0) + 1
    out += [{"dimension": "status_detail", "county": c, "township": t, "village": v, "key": k, "term": term,
             "age_group": a, "category": cat, "poverty_status": pov, "count": n}
            for (c, t, v, k, a, cat, pov), n in sorted(detail.items(), key=str)]
    for county in sorted({p["hukou_county"] for p in persons}):
        out.append(
            {"dimension": "aid", "county": county, "key": "ZX01", "term": term, "count": 10,
             "amount_expected": Decimal("6250.00"), "amount_paid": Decimal("5625.00"),
             "amount_missed": Decimal("625.00"), "amount_duplicate": Decimal("625.00"),
             "amount_wrong": Decimal("0.00")}
        )
    for i, county in enumerate(sorted({p["hukou_county"] for p in persons})):
        for c in range(4):  # class sizes: pupils per class
            out.append(
                {"dimension": "class_size", "county": county, "key": f"{county}0001|三年级|{c + 1}班",
                 "term": term, "count": (40, 58, 66 + i, 70)[c], "amount_expected": None,
                 "amount_paid": None, "amount_missed": None, "amount_duplicate": None, "amount_wrong": None}
            )
    return out


SUMMARY_SCHEMA = SUMMARY.arrow_schema()
FINDINGS_SCHEMA = FINDINGS.arrow_schema()


def build_run(
    path: Path, *, run_id: str = "R2021春-1", term: str = "2021春", n_per_county: int = 30, shift: int = 0,
    made_at: str = "2021-03-01T10:00:00", counties: tuple[str, ...] = COUNTIES,
) -> RunDir:
    """Write a complete run directory; `shift` moves every child's status (a 'later' run)."""
    path.mkdir(parents=True, exist_ok=True)
    persons = [p for i, c in enumerate(counties) for p in _persons(i, c, n_per_county, shift)]
    findings = _findings(persons, term, shift)
    # every file from the output declarations: a report cannot read a field that no run writes
    pq.write_table(PERSONS.table_from_rows(persons), path / "persons.parquet")
    pq.write_table(FINDINGS.table_from_rows(findings), path / "findings.parquet")
    pq.write_table(SUMMARY.table_from_rows(_summary(persons, findings, term)), path / "summary.parquet")
    pq.write_table(REJECTS.table_from_rows([]), path / "rejects.parquet")
    pq.write_table(LINKS.table_from_rows([]), path / "links.parquet")
    manifest = {"run_id": run_id, "term": term, "audit_terms": [term], "version": "test", "config_hash": "x",
                "inputs": [], "timings": {}, "totals": {}, "status": "complete",
                "started_at": made_at, "finished_at": made_at}
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return RunDir(path)


def set_statuses(run: RunDir, statuses: dict[str, str]) -> None:
    """Give some children another status (by person_id), keeping the summary consistent."""
    persons = pq.read_table(run.parquet_path("persons")).to_pylist()
    for p in persons:
        if p["person_id"] in statuses:
            p["status"] = statuses[p["person_id"]]
            p["status_label"] = STATUSES[p["status"]]
    pq.write_table(PERSONS.table_from_rows(persons), run.parquet_path("persons"))
    findings = pq.read_table(run.parquet_path("findings")).to_pylist()
    term = run.term
    summary = [s for s in pq.read_table(run.parquet_path("summary")).to_pylist() if s["dimension"] not in
               ("status", "status_detail", "finding")]
    summary += [s for s in _summary(persons, findings, term) if s["dimension"] in ("status", "status_detail", "finding")]
    pq.write_table(SUMMARY.table_from_rows(summary), run.parquet_path("summary"))


def person_ids(run: RunDir, county: str) -> list[str]:
    return [p["person_id"] for p in pq.read_table(run.parquet_path("persons")).to_pylist()
            if p["hukou_county"] == county]
