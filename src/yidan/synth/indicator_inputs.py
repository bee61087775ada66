"""The optional indicator inputs of a generated province: schools, classes, population, with ground truth.

Consistent with the generated enrollment: every school of the enrollment is in the directory (but for
the special schools of a share of counties, left out so that 特殊教育学校 coverage is below 100 %),
the classes of school year 2020 are the enrollment's own classes of the run term with their pupils,
and the population of 3–5-year-olds is drawn from an injected gross enrolment rate per county. The
cohort's first grade of 2012 is drawn from an injected retention rate per county.

The truth (truth/indicators.parquet: county, code, numerator, denominator, value) is counted from
what was written and drawn here, never by the indicator code.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yidan.contract.codes import STAGES
from yidan.synth import schools as sc

KG_TYPES = ("公办", "普惠性民办", "非普惠")
KG_TYPE_P = (0.45, 0.35, 0.20)
NO_SPECIAL_SHARE = 0.2  # counties whose special school is not in the directory
GROSS_RATE = (0.80, 0.97)  # injected 学前三年毛入园率 per county
RETENTION = (0.90, 0.99)  # injected 巩固率 per county
SCHOOL_YEAR, FIRST_YEAR = 2020, 2012
FIRST_CLASS = 45


def build(rng: np.random.Generator, schools: sc.Schools, s_codes: np.ndarray, enr: pa.Table,
          run_term: str, county_codes: np.ndarray) -> dict[str, pa.Table]:
    """schools, classes, population (Chinese headers) and truth (per county, per indicator)."""
    n_s = len(schools.county_idx)
    county_of_school = np.asarray(s_codes)[schools.county_idx].astype(str)
    stage = schools.stage
    kg = stage == sc.PRE
    kg_type = np.where(kg, rng.choice(3, size=n_s, p=KG_TYPE_P), -1)
    counties = sorted(set(county_codes.astype(str).tolist()))
    no_special = {c for c in counties if rng.random() < NO_SPECIAL_SHARE}
    listed = ~((stage == sc.SPECIAL) & np.isin(county_of_school, list(no_special)))
    codes = schools.code.to_numpy(zero_copy_only=False)
    names = schools.name.to_numpy(zero_copy_only=False)
    own = np.where(kg, np.where(kg_type == 0, "公办", "民办"), "公办")
    schools_t = pa.table({
        "学校标识码": pa.array(codes[listed]),
        "学校名称": pa.array(names[listed]),
        "学校区划代码": pa.array(county_of_school[listed]),
        "学段": pa.array(np.array(STAGES)[stage][listed]),
        "办别": pa.array(own[listed]),
        "普惠性": pa.array(np.where(kg, np.array([*KG_TYPES, ""])[kg_type], "")[listed]),
        "寄宿制": pa.array(np.where(np.isin(stage, [sc.JUNIOR, sc.SENIOR]), "是", "否")[listed]),
        "小规模学校": pa.array(np.full(int(listed.sum()), "否")),
        "特殊教育学校": pa.array(np.where(stage == sc.SPECIAL, "是", "否")[listed]),
        "办学状态": pa.array(np.full(int(listed.sum()), "在办")),
        "撤并日期": pa.array(np.full(int(listed.sum()), "")),
    })

    # the run term's classes, from the enrollment itself (pupils 在读, the extra L records included)
    now = enr.filter(pc.and_(pc.equal(enr["学期"].cast(pa.string()), run_term),
                             pc.equal(enr["学籍状态"].cast(pa.string()), "在读")))
    cols = {k: now[k].cast(pa.string()) for k in ("学校标识码", "学段", "学校区划代码", "年级", "班级")}
    grouped = pa.table(cols).group_by(list(cols)).aggregate([([], "count_all")])
    classes_now = pa.table({
        "学校标识码": grouped["学校标识码"], "学年": pa.array([str(SCHOOL_YEAR)] * grouped.num_rows),
        "年级": grouped["年级"], "班级": grouped["班级"],
        "在班人数": pc.cast(grouped["count_all"], pa.string()),
    })
    size = grouped["count_all"].to_numpy()
    g_stage = grouped["学段"].to_numpy(zero_copy_only=False)
    g_grade = grouped["年级"].to_numpy(zero_copy_only=False)
    g_county = grouped["学校区划代码"].to_numpy(zero_copy_only=False)

    truth: list[dict] = []

    def add(code: str, county: str, num: float, den: float | None) -> None:
        truth.append({"county": county, "code": code, "numerator": float(num),
                      "denominator": None if den is None else float(den),
                      "value": (num / den if den else None) if den is not None else float(num)})

    compulsory = np.isin(g_stage, ["小学", "初中"])
    kg_limits = {"小班": 25, "中班": 30, "大班": 35}
    first_rows: list[dict] = []
    pop_rows: list[dict] = []
    school_code = np.array(codes)
    for c in counties:
        here = g_county == c
        cls = here & compulsory
        add("large_class_rate", c, int(((size >= 56) & (size <= 65) & cls).sum()), int(cls.sum()))
        add("very_large_class_rate", c, int(((size >= 66) & cls).sum()), int(cls.sum()))
        kgc = here & (g_stage == "学前") & np.isin(g_grade, list(kg_limits))
        limit = np.array([kg_limits.get(g, 10**9) for g in g_grade])
        add("kindergarten_oversize_rate", c, int(((size > limit) & kgc).sum()), int(kgc.sum()))
        # 巩固率: 九年级 pupils now over a first grade of 2012 drawn from an injected retention rate
        ninth = int(size[here & (g_stage == "初中") & (g_grade == "九年级")].sum())
        rate = rng.uniform(*RETENTION)
        first = max(1, round(ninth / rate))
        primary = school_code[(county_of_school == c) & (stage == sc.PRIMARY) & listed]
        for k, start in enumerate(range(0, first, FIRST_CLASS)):
            first_rows.append({"学校标识码": str(primary[k % len(primary)]), "学年": str(FIRST_YEAR), "年级": "一年级",
                               "班级": f"一年级{k + 1}班", "在班人数": str(min(FIRST_CLASS, first - start))})
        add("consolidation", c, ninth, first)
        # 毛入园率: kindergarten children now over a population drawn from an injected rate
        children = int(size[here & (g_stage == "学前")].sum())
        people = max(3, round(children / rng.uniform(*GROSS_RATE)))
        split = np.array([people // 3, people // 3, people - 2 * (people // 3)])
        for age, k in zip((3, 4, 5), split.tolist(), strict=True):
            pop_rows.append({"区划代码": c, "年份": str(SCHOOL_YEAR), "单岁年龄": str(age), "口径": "常住",
                             "人口数": str(k)})
            pop_rows.append({"区划代码": c, "年份": str(SCHOOL_YEAR), "单岁年龄": str(age), "口径": "户籍",
                             "人口数": str(round(k * 1.1))})
        add("preschool_gross_enrolment", c, children, people)
        add("special_school_county_coverage", c, 0 if c in no_special else 1, 1)

    # kindergarten children by type of their kindergarten (every kindergarten is listed)
    kg_of = dict(zip(codes[kg].tolist(), kg_type[kg].tolist(), strict=True))
    k_rows = now.filter(pc.equal(now["学段"].cast(pa.string()), "学前"))
    k_school = k_rows["学校标识码"].cast(pa.string()).to_numpy(zero_copy_only=False)
    k_county = k_rows["学校区划代码"].cast(pa.string()).to_numpy(zero_copy_only=False)
    k_type = np.array([kg_of.get(s, 2) for s in k_school.tolist()], dtype=np.int64)
    for c in counties:
        here = k_county == c
        add("inclusive_kindergarten_coverage", c, int((here & (k_type <= 1)).sum()), int(here.sum()))
        add("public_kindergarten_share", c, int((here & (k_type == 0)).sum()), int(here.sum()))

    classes_t = pa.concat_tables([classes_now, pa.Table.from_pylist(first_rows, schema=classes_now.schema)])
    return {
        "schools": schools_t,
        "classes": classes_t,
        "population": pa.Table.from_pylist(pop_rows),
        "truth": pa.Table.from_pylist(truth, schema=pa.schema([
            ("county", pa.string()), ("code", pa.string()), ("numerator", pa.float64()),
            ("denominator", pa.float64()), ("value", pa.float64())])),
    }
