"""Schooling plans (stage and grade by age), schools per county and the classes inside them.

A child's stage follows their age on the reference day: 3–5 pre-school, 6–11 primary (grade =
age − 5), 12–14 junior secondary, 15–17 senior or vocational, 18 a few repeaters in senior year 3.
Class sizes come from a per-(school, grade) target, so some classes are "large" (56–65) and a few
"very large" (66 and more), which the large-class indicator must find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from yidan.contract.codes import STAGES

PRE, PRIMARY, JUNIOR, SENIOR, VOCATIONAL, SPECIAL = range(6)  # index into STAGES
GRADES: dict[int, tuple[str, ...]] = {
    PRE: ("小班", "中班", "大班"),
    PRIMARY: ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级"),
    JUNIOR: ("七年级", "八年级", "九年级"),
    SENIOR: ("高一", "高二", "高三"),
    VOCATIONAL: ("一年级", "二年级", "三年级"),
    SPECIAL: ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级"),
}
SCHOOL_SIZE = {PRE: 150, PRIMARY: 500, JUNIOR: 800, SENIOR: 1500, VOCATIONAL: 1000, SPECIAL: 100}
SCHOOL_KIND = {PRE: "中心幼儿园", PRIMARY: "小学", JUNIOR: "中学", SENIOR: "高级中学", VOCATIONAL: "职业中专",
               SPECIAL: "特殊教育学校"}
BOARDING_P = {PRE: 0.0, PRIMARY: 0.15, JUNIOR: 0.5, SENIOR: 0.6, VOCATIONAL: 0.5, SPECIAL: 0.3}
_CLASS_TARGETS = np.array([38, 45, 50, 54, 62, 72])
_CLASS_TARGET_P = np.array([0.15, 0.30, 0.25, 0.12, 0.12, 0.06])


@dataclass
class Plan:
    """Where a child should be at school this year: stage (-1 = not enrolled), grade index, boarding."""

    stage: np.ndarray
    grade: np.ndarray
    boarding: np.ndarray


def plan_by_age(rng: np.random.Generator, age: np.ndarray, *, always_enrolled: bool) -> Plan:
    n = len(age)
    u = rng.random(n)
    stage = np.select(
        [(age >= 3) & (age <= 5), (age >= 6) & (age <= 11), (age >= 12) & (age <= 14),
         (age >= 15) & (age <= 17), age == 18],
        [PRE, PRIMARY, JUNIOR, np.where(u < 0.75, SENIOR, VOCATIONAL), SENIOR], -1)
    grade = np.select([stage == PRE, stage == PRIMARY, stage == JUNIOR, age == 18],
                      [age - 3, age - 6, age - 12, 2], age - 15)
    if not always_enrolled:
        v = rng.random(n)
        stage = np.where((stage == PRE) & (v < 0.2), -1, stage)
        stage = np.where((age >= 16) & (age <= 17) & (v < 0.12), -1, stage)
        stage = np.where((age == 18) & (v < 0.75), -1, stage)
    p_board = np.array([BOARDING_P[s] for s in range(6)] + [0.0])
    boarding = rng.random(n) < p_board[stage]
    return Plan(stage.astype(np.int8), np.where(stage >= 0, grade, 0).astype(np.int8), boarding)


@dataclass
class Schools:
    """Every school: its 10-digit code, name, county index and stage."""

    code: pa.Array
    name: pa.Array
    county_idx: np.ndarray
    stage: np.ndarray
    first: dict[tuple[int, int], tuple[int, int]]  # (county, stage) -> (first index, count)


def make_schools(province_code: str, county_names: tuple[str, ...],
                 pupils_by_county_stage: np.ndarray) -> Schools:
    """Enough schools of each stage in each county for its pupils (at least one of each)."""
    n_c = pupils_by_county_stage.shape[0]
    sizes = np.array([SCHOOL_SIZE[s] for s in range(6)])
    count = np.maximum(1, np.ceil(pupils_by_county_stage / sizes[None, :]).astype(np.int64))
    c_idx = np.repeat(np.repeat(np.arange(n_c), 6), count.ravel())
    s_idx = np.repeat(np.tile(np.arange(6), n_c), count.ravel())
    starts = np.cumsum(count.ravel()) - count.ravel()
    seq = np.arange(len(c_idx)) - np.repeat(starts, count.ravel()) + 1
    code = [f"1{province_code}{c:03d}{s}{q:03d}" for c, s, q in zip(c_idx, s_idx, seq, strict=True)]
    name = [f"{county_names[c]}第{q}{SCHOOL_KIND[s]}" if count[c, s] > 1 else f"{county_names[c]}{SCHOOL_KIND[s]}"
            for c, s, q in zip(c_idx.tolist(), s_idx.tolist(), seq.tolist(), strict=True)]
    first = {(c, s): (int(starts[c * 6 + s]), int(count[c, s])) for c in range(n_c) for s in range(6)}
    return Schools(pa.array(code), pa.array(name), c_idx, s_idx, first)


def pick_schools(rng: np.random.Generator, schools: Schools, county_idx: np.ndarray,
                 stage: np.ndarray, *, avoid: np.ndarray | None = None) -> np.ndarray:
    """A school of the right county and stage for each pupil (another one than `avoid` if possible)."""
    n_c = int(schools.county_idx.max()) + 1 if len(schools.county_idx) else 0
    first = np.zeros((n_c, 6), dtype=np.int64)
    count = np.zeros((n_c, 6), dtype=np.int64)
    for (c, s), (f, k) in schools.first.items():
        first[c, s], count[c, s] = f, k
    k = count[county_idx, stage]
    off = rng.integers(0, 1 << 30, size=len(stage)) % k
    out = first[county_idx, stage] + off
    if avoid is not None:
        clash = (out == avoid) & (k > 1)
        out = np.where(clash, first[county_idx, stage] + (off + 1) % k, out)
    return out


def assign_classes(rng: np.random.Generator, school: np.ndarray, grade: np.ndarray) -> np.ndarray:
    """Class number (1-based) inside each (school, grade): sizes near a per-group target."""
    key = school.astype(np.int64) * 16 + grade
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    target = rng.choice(_CLASS_TARGETS, size=len(uniq), p=_CLASS_TARGET_P)
    k = np.ceil(counts / target).astype(np.int64)
    order = np.lexsort((rng.random(len(key)), inv))
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - starts[inv[order]]
    return rank % k[inv] + 1


def grade_names() -> list[str]:
    """Grade label by stage × 9 + grade index (the few (stage, grade) pairs)."""
    return [g for s in range(6) for g in (list(GRADES[s]) + [""] * (9 - len(GRADES[s])))]


def stage_labels(stage: np.ndarray) -> pa.Array:
    return pa.array(list(STAGES)).take(pa.array(stage.astype(np.int64)))
