"""The ground truth beside the generated files: persons, links, findings and rejects.

It is written from what the generator did (the story each child got, the payments it changed),
never by re-running the pipeline's rules, so the pipeline's quality tests have an independent
oracle. Statuses and K findings come from each case's declaration in faults.CASES; Z findings
from the payment changes recorded in payments.build.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yidan.pipeline.keys import finding_key
from yidan.synth.aid import RUN_TERM
from yidan.synth.faults import CASES
from yidan.synth.payments import AidFindings
from yidan.synth.people import Registry

AMOUNT = pa.decimal128(14, 2)


def statuses(case: np.ndarray, age: np.ndarray, enrolled: np.ndarray) -> pa.Array:
    """True status per registry row in the run term; null outside the school-age range (3–18)."""
    by_case = np.array([c.status or "" for c in CASES], dtype=object)[case]
    default = np.where(enrolled, "IN_SCHOOL", "UNMATCHED")
    status = np.where(by_case == "", default, by_case)
    # outside compulsory age (6–15) a child without any enrollment is out of school, not "unmatched"
    status = np.where((status == "UNMATCHED") & (age < 6), "NOT_IN_KINDERGARTEN", status)
    status = np.where((status == "UNMATCHED") & (age > 15), "NOT_IN_SCHOOL", status)
    in_range = (age >= 3) & (age <= 18)
    null = np.array(None, dtype=object)  # what numpy makes of a bare None, spelt out for its stubs
    return pa.array(np.where(in_range, status, null), pa.string())


def fault_tags(reg: Registry, case: np.ndarray, reg_faults: dict[str, np.ndarray]) -> pa.Array:
    tags = np.array([c.tag if c.pool else None for c in CASES], dtype=object)[case]
    tags = np.where((tags == None) & reg.twin, "twin", tags)  # noqa: E711 - numpy elementwise
    for tag in ("registry_legacy_15", "registry_excel_mangled"):
        tags[reg_faults[tag]] = tag
    return pa.array(tags, pa.string())


def build(reg: Registry, age: np.ndarray, case: np.ndarray, person_id: pa.Array, true_id: pa.Array,
          county_codes: np.ndarray, enr: pa.Table, enr_person: np.ndarray, n: int, aid_found: AidFindings,
          reg_faults: dict[str, np.ndarray], enrolled: np.ndarray) -> dict[str, pa.Table]:
    hukou = pc.cast(pa.array(county_codes[reg.county_idx]), pa.string())
    fault = fault_tags(reg, case, reg_faults)
    kept = pc.is_valid(person_id)  # rows rejected at loading are not persons
    persons = pa.table({
        "person_id": person_id, "true_id": true_id, "status": statuses(case, age, enrolled),
        "compulsory_age": pa.array((age >= 6) & (age <= 15)), "age": pa.array(age.astype(np.int32)),
        "hukou_county": hukou, "fault": fault, "in_school_age": pa.array((age >= 3) & (age <= 18)),
    }).filter(kept)

    mine = enr_person < n
    rows = np.flatnonzero(mine)
    pairs = pa.table({"p": pa.array(enr_person[rows]), "student_no": enr["全国学籍号"].take(pa.array(rows))})
    pairs = pairs.group_by(["p", "student_no"]).aggregate([]).sort_by([("p", "ascending"),
                                                                      ("student_no", "ascending")])
    p_idx = pairs["p"].combine_chunks()
    links = pa.table({"person_id": person_id.take(p_idx), "student_no": pairs["student_no"],
                      "fault": fault.take(p_idx)})

    recs: list[dict] = []
    term = RUN_TERM.label
    for i, c in enumerate(CASES):
        for code in c.codes:
            for r in np.flatnonzero(case == i):
                pid = person_id[int(r)].as_py()
                recs.append({"finding_key": finding_key(code, term, None, pid), "code": code, "person_id": pid,
                             "term": term, "programme_code": None, "county": hukou[int(r)].as_py(),
                             "amount_expected": None, "amount_paid": None, "case": c.tag})
    for f in aid_found.rows:
        # a payee outside the registry (other target lists, or none) carries its own ID and case
        pid = f["payee_id"] if "payee_id" in f else person_id[f["person"]].as_py()
        recs.append({"finding_key": finding_key(f["code"], f["term"], f["programme_code"], pid),
                     "code": f["code"], "person_id": pid, "term": f["term"],
                     "programme_code": f["programme_code"], "county": f["county"],
                     "amount_expected": Decimal(f["amount_expected"]) / 100,
                     "amount_paid": Decimal(f["amount_paid"]) / 100,
                     "case": f.get("case") or CASES[int(case[f["person"]])].tag})
    schema = pa.schema([("finding_key", pa.string()), ("code", pa.string()), ("person_id", pa.string()),
                        ("term", pa.string()), ("programme_code", pa.string()), ("county", pa.string()),
                        ("amount_expected", AMOUNT), ("amount_paid", AMOUNT), ("case", pa.string())])
    findings = pa.Table.from_pylist(recs, schema=schema).sort_by([("code", "ascending"),
                                                                 ("finding_key", "ascending")])

    mangled = np.sort(reg_faults["registry_excel_mangled"])
    rejects = pa.table({
        "table": pa.array(["registry"] * len(mangled), pa.string()),
        "file": pa.array(["registry.csv"] * len(mangled), pa.string()),
        "row_number": pa.array((mangled + 2).astype(np.int64)),  # header on line 1
        "column": pa.array(["身份证号"] * len(mangled), pa.string()),
        "reason_tag": pa.array(["excel_mangled"] * len(mangled), pa.string()),
    })
    return {"persons": persons, "links": links, "findings": findings, "rejects": rejects}
