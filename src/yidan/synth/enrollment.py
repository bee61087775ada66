"""Enrollment records (学籍) of two term snapshots, 2020秋 and 2021春, as rows of arrays.

Most pupils have one 在读 row per term at the same school. The schooling stories change a child's
rows: a dropout's spring row says 辍学, a completed transfer has its autumn row 转出 at the old
school and its spring row 在读 at the new one, a double enrollment has an extra spring row under
an "L" number, graduates have only an autumn row saying 毕业.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yidan.contract.codes import ENROLLMENT_STATUSES, STAGES
from yidan.synth import schools as sc

ST = {s: i for i, s in enumerate(ENROLLMENT_STATUSES)}
FALL, SPRING = 0, 1
TERM_LABELS = ("2020秋", "2021春")
NAT = np.datetime64("NaT", "D")


@dataclass
class Rows:
    person: np.ndarray  # index into the unified person arrays (registry rows first, then pupils)
    term: np.ndarray
    status: np.ndarray
    school: np.ndarray
    stage: np.ndarray
    grade: np.ndarray
    boarding: np.ndarray
    home: np.ndarray  # 送教上门
    status_date: np.ndarray
    l_record: np.ndarray  # the extra "L" record of a double enrollment

    def __len__(self) -> int:
        return len(self.person)

    def take(self, idx: np.ndarray) -> Rows:
        return Rows(*(getattr(self, f.name)[idx] for f in fields(self)))


def rows(person: np.ndarray, term: int, status: str | np.ndarray, school: np.ndarray, stage: np.ndarray,
         grade: np.ndarray, boarding: np.ndarray, *, home: bool = False, date: np.ndarray | None = None,
         l_record: bool = False) -> Rows:
    n = len(person)
    st = np.full(n, ST[status]) if isinstance(status, str) else status
    return Rows(person, np.full(n, term, dtype=np.int8), st.astype(np.int8), school, stage.astype(np.int8),
                grade.astype(np.int8), boarding.astype(bool), np.full(n, home), NAT + np.zeros(n, "timedelta64[D]")
                if date is None else date, np.full(n, l_record))


def concat(parts: list[Rows]) -> Rows:
    return Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Rows)))


def dates_near(rng: np.random.Generator, start: str, n: int, spread: int = 20) -> np.ndarray:
    return np.datetime64(start) + rng.integers(0, spread, size=n).astype("timedelta64[D]")


@dataclass
class PersonColumns:
    """Per unified person: what the enrollment system holds (may differ from the truth by a fault)."""

    student_no: pa.Array
    id_number: pa.Array
    name: pa.Array
    male: np.ndarray
    birth: np.ndarray


def coded(values: list[str] | pa.Array, idx: np.ndarray) -> pa.DictionaryArray:
    """A column of few distinct values as a dictionary array: no string per row in memory."""
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values, pa.string()))


def to_table(r: Rows, pc_: PersonColumns, l_numbers: pa.Array, schools: sc.Schools,
             county_codes: np.ndarray, class_no: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """The enrollment rows with the contract's Chinese headers, in school and class order.

    Also returns the unified person index of each written row (for the truth's links).
    """
    order = np.lexsort((r.person, class_no[r.person], r.school, r.term))
    r = r.take(order)
    p = pa.array(r.person)
    l_rank = np.cumsum(r.l_record) - 1
    sno = pc.if_else(pa.array(r.l_record), l_numbers.take(pa.array(np.maximum(l_rank, 0))),
                     pc_.student_no.take(p))
    cls = np.where(r.l_record | (r.status == ST["毕业"]), 1, class_no[r.person])
    grade_code = r.stage.astype(np.int64) * 9 + r.grade
    class_key, class_idx = np.unique(grade_code * 1000 + cls, return_inverse=True)
    grade_names = sc.grade_names()
    class_names = [f"{grade_names[k // 1000]}{k % 1000}班" for k in class_key.tolist()]
    school_county = pc.cast(pa.array(county_codes[schools.county_idx]), pa.string())
    return pa.table({
        "全国学籍号": sno,
        "身份证号": pc_.id_number.take(p),
        "姓名": pc_.name.take(p),
        "性别": coded(["女", "男"], pc_.male[r.person]),
        "出生日期": pc.cast(pa.array(pc_.birth[r.person]), pa.string()),
        "学校标识码": coded(schools.code, r.school),
        "学校名称": coded(schools.name, r.school),
        "学校区划代码": coded(school_county, r.school),
        "学段": coded(list(STAGES), r.stage),
        "年级": coded(grade_names, grade_code),
        "班级": coded(class_names, class_idx),
        "学籍状态": coded(list(ENROLLMENT_STATUSES), r.status),
        "就读方式": coded(["", "送教上门"], r.home),
        "是否寄宿": coded(["否", "是"], r.boarding),
        "状态变动日期": pc.fill_null(pc.cast(pa.array(r.status_date), pa.string()), ""),
        "学期": coded(list(TERM_LABELS), r.term),
    }), r.person
