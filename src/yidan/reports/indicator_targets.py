"""The declared indicators (indicator_defs) computed from a run: SQL over its outputs and input files.

One long table: per indicator × level (county / city / province) × region, the numerator and
denominator summed from the counties (a province figure is always its counties' figures added),
the value, the target and its year, the gap to the target and the change since the previous run.
An indicator the run could not compute has one row with no value and the reason in `note`.

Everything runs in DuckDB: the run's Parquet outputs as views (reports.runsql) and the optional
input files the run was given (its manifest lists them), read again through the ingest readers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from yidan.reports.indicator_defs import BY_CODE, INDICATORS, Indicator, availability, gap, target_of
from yidan.reports.regions import region_name
from yidan.reports.runsql import connect, sql_literal
from yidan.runs.rundir import RunDir
from yidan.settings import IndicatorConfig

LEVEL_WIDTH = {"county": 6, "city": 4, "province": 2}
LEVEL_LABELS = {"province": "全省", "city": "市州", "county": "县"}
IN_SCHOOL = "('IN_SCHOOL', 'HOME_TEACHING', 'OUT_OF_PROVINCE')"
OUT_OF_SCOPE = "('DECEASED', 'ABROAD', 'COMPLETED', 'EXEMPT')"  # out of the in-school rate's denominator
FIRST_GRADE = ("一年级", "小学一年级", "1年级")
NINTH_GRADE = ("九年级", "初三", "初中三年级", "9年级")
KINDERGARTEN = "学前"
COMPULSORY = "('小学', '初中')"
USES_ENROLLMENT = {"consolidation", "preschool_gross_enrolment", "inclusive_kindergarten_coverage",
                   "public_kindergarten_share", "large_class_rate", "very_large_class_rate",
                   "kindergarten_oversize_rate"}

SCHEMA = pa.schema([
    ("code", pa.string()), ("name", pa.string()), ("unit", pa.string()), ("level", pa.string()),
    ("region", pa.string()), ("region_name", pa.string()), ("value", pa.float64()), ("numerator", pa.float64()),
    ("denominator", pa.float64()), ("target", pa.float64()), ("target_year", pa.int32()), ("gap", pa.float64()),
    ("previous", pa.float64()), ("change", pa.float64()), ("basis", pa.string()), ("note", pa.string()),
])


def school_year(term: str) -> int:
    """The school year's first calendar year: 2020秋 and 2021春 are both 2020."""
    return int(term[:4]) - (1 if term.endswith("春") else 0)


def _sy_sql(col: str) -> str:
    return f"(CAST(left({col}, 4) AS INTEGER) - CASE WHEN right({col}, 1) = '春' THEN 1 ELSE 0 END)"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(sql_literal(v) for v in values) + ")"


def given_tables(run: RunDir) -> set[str]:
    return {str(f.get("table")) for f in run.manifest.get("inputs", []) if f.get("table")}


def _load_inputs(con: Any, run: RunDir) -> set[str]:
    """Views `<table>_in` for enrollment, schools, classes, population (empty with the contract's columns when absent)."""
    from yidan.contract import TABLES
    from yidan.ingest import load_table
    from yidan.pipeline.load import table_schema

    present: set[str] = set()
    for name in ("enrollment", "schools", "classes", "population"):
        paths = [Path(f["path"]) for f in run.manifest.get("inputs", []) if f.get("table") == name]
        if paths and all(p.is_file() for p in paths):
            load_table(con, name, paths, default_term=run.term, name=f"{name}_in")
            present.add(name)
        else:
            cols = ", ".join(f'NULL::{_duck(t)} AS "{c}"' for c, t in table_schema(TABLES[name]).items())
            con.execute(f"CREATE OR REPLACE VIEW {name}_in AS SELECT {cols} WHERE false")
    return present


def _duck(t: Any) -> str:
    s = str(t).lower()
    return {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "date": "DATE", "boolean": "BOOLEAN",
            "array<string>": "VARCHAR[]"}.get(s, "DECIMAL(14,2)" if s.startswith("decimal") else "VARCHAR")


def _prepare(con: Any, run: RunDir, cfg: IndicatorConfig) -> None:
    """Shared views: schools' county and stage, class sizes of the school year, kindergarten children."""
    y = school_year(run.term)
    term = sql_literal(run.term)
    con.execute("""CREATE OR REPLACE VIEW school_info AS
        WITH e AS (SELECT school_code, any_value(school_county_code) AS county, mode(stage) AS stage
                   FROM enrollment_in GROUP BY ALL)
        SELECT school_code, coalesce(s.county_code, e.county) AS county, coalesce(s.stage, e.stage) AS stage,
               s.kindergarten_type, s.ownership
        FROM e FULL JOIN (SELECT * FROM schools_in) s USING (school_code)""")
    classes_this_year = con.execute(f"SELECT count(*) FROM classes_in WHERE school_year = {y}").fetchone()[0]
    if classes_this_year:
        con.execute(f"""CREATE OR REPLACE VIEW class_sizes AS
            SELECT i.county, i.stage, c.grade, c.pupils, '班级表' AS basis FROM classes_in c
            JOIN school_info i USING (school_code) WHERE c.school_year = {y}""")
    else:
        con.execute(f"""CREATE OR REPLACE VIEW class_sizes AS
            SELECT school_county_code AS county, stage, grade, count(*) AS pupils, '学籍推算' AS basis
            FROM enrollment_in WHERE enrollment_status = '在读' AND term = {term} AND class_id IS NOT NULL
            GROUP BY school_county_code, school_code, stage, grade, class_id""")
    con.execute(f"""CREATE OR REPLACE VIEW kindergarten_children AS
        SELECT e.school_county_code AS county, e.school_code, i.kindergarten_type, i.ownership
        FROM enrollment_in e LEFT JOIN school_info i USING (school_code)
        WHERE e.stage = '{KINDERGARTEN}' AND e.enrollment_status = '在读' AND e.term = {term}""")
    limits = cfg.kindergarten_class_limits
    whens = " ".join(f"WHEN {sql_literal(g)} THEN {int(n)}" for g, n in limits.items())
    con.execute(f"CREATE OR REPLACE MACRO kg_limit(g) AS CASE g {whens} END")


def _queries(y: int, cfg: IndicatorConfig) -> dict[str, tuple[str, str]]:
    """code -> (SQL giving county, numerator, denominator, basis; the reason when it gives no row)."""
    lo, vl = cfg.large_class_min, cfg.very_large_class_min
    first = y - 8
    sy = _sy_sql("term")
    cohort = f"""
        WITH e AS (SELECT student_no, school_county_code AS county, stage, grade, enrollment_status AS st,
                          {sy} AS sy FROM enrollment_in),
        firsts AS (SELECT student_no, min(county) AS county FROM e
                   WHERE sy = {first} AND grade IN {_in(FIRST_GRADE)} AND stage = '小学' GROUP BY 1),
        dead AS (SELECT DISTINCT student_no FROM e WHERE st = '死亡'),
        finals AS (SELECT DISTINCT student_no FROM e
                   WHERE sy = {y} AND grade IN {_in(NINTH_GRADE)} AND stage = '初中' AND st IN ('在读', '毕业')),
        by_cohort AS (
            SELECT f.county, count(n.student_no) AS numerator, count(*) AS denominator, '学籍逐人追踪' AS basis
            FROM firsts f ANTI JOIN dead d USING (student_no) LEFT JOIN finals n USING (student_no) GROUP BY 1),
        c AS (SELECT i.county, c.school_year, c.grade, c.pupils, i.stage FROM classes_in c
              LEFT JOIN school_info i USING (school_code)),
        by_classes AS (
            SELECT county,
                   coalesce(sum(pupils) FILTER (WHERE school_year = {y} AND grade IN {_in(NINTH_GRADE)}
                                                AND coalesce(stage, '初中') = '初中'), 0) AS numerator,
                   sum(pupils) FILTER (WHERE school_year = {first} AND grade IN {_in(FIRST_GRADE)}
                                       AND coalesce(stage, '小学') = '小学') AS denominator,
                   '班级表（{y}学年九年级 ÷ {first}学年一年级）' AS basis
            FROM c WHERE county IS NOT NULL GROUP BY 1)
        SELECT * FROM by_cohort
        UNION ALL SELECT * FROM by_classes WHERE denominator IS NOT NULL
                                            AND county NOT IN (SELECT county FROM by_cohort)"""
    kg_total = "count(*) AS denominator"
    persons_base = f"FROM persons WHERE compulsory_age AND status NOT IN {OUT_OF_SCOPE} AND hukou_county IS NOT NULL"
    return {
        "consolidation": (
            cohort,
            f"学籍中没有 {first} 学年一年级的记录，班级表（classes）中也没有 {first} 学年一年级的在班人数",
        ),
        "preschool_gross_enrolment": (
            f"""WITH pop AS (SELECT county_code AS county, coalesce(basis, '常住') AS basis, sum(people) AS people
                             FROM population_in WHERE year = {y} AND age BETWEEN 3 AND 5 GROUP BY ALL),
                     p AS (SELECT county, arg_min(people, CASE basis WHEN '常住' THEN 0 ELSE 1 END) AS people,
                                  arg_min(basis, CASE basis WHEN '常住' THEN 0 ELSE 1 END) AS basis
                           FROM pop GROUP BY 1),
                     k AS (SELECT county, count(*) AS children FROM kindergarten_children GROUP BY 1)
                SELECT p.county, coalesce(k.children, 0) AS numerator, p.people AS denominator,
                       p.basis || '人口' AS basis FROM p LEFT JOIN k USING (county)""",
            f"人口表（population）中没有 {y} 年 3–5 岁的人口数",
        ),
        "inclusive_kindergarten_coverage": (
            f"""SELECT county, count(*) FILTER (WHERE kindergarten_type IN ('公办', '普惠性民办')) AS numerator,
                       {kg_total}, '' AS basis FROM kindergarten_children GROUP BY 1""",
            "本学期学籍中没有在园幼儿",
        ),
        "public_kindergarten_share": (
            f"""SELECT county, count(*) FILTER (WHERE coalesce(kindergarten_type, ownership) = '公办') AS numerator,
                       {kg_total}, '' AS basis FROM kindergarten_children GROUP BY 1""",
            "本学期学籍中没有在园幼儿",
        ),
        "large_class_rate": (
            f"""SELECT county, count(*) FILTER (WHERE pupils BETWEEN {lo} AND {vl - 1}) AS numerator,
                       count(*) AS denominator, any_value(basis) AS basis
                FROM class_sizes WHERE stage IN {COMPULSORY} AND county IS NOT NULL GROUP BY 1""",
            "没有小学、初中的班级（班级表与学籍中都没有班级）",
        ),
        "very_large_class_rate": (
            f"""SELECT county, count(*) FILTER (WHERE pupils >= {vl}) AS numerator, count(*) AS denominator,
                       any_value(basis) AS basis
                FROM class_sizes WHERE stage IN {COMPULSORY} AND county IS NOT NULL GROUP BY 1""",
            "没有小学、初中的班级（班级表与学籍中都没有班级）",
        ),
        "kindergarten_oversize_rate": (
            f"""SELECT county, count(*) FILTER (WHERE pupils > kg_limit(grade)) AS numerator, count(*) AS denominator,
                       any_value(basis) AS basis
                FROM class_sizes WHERE stage = '{KINDERGARTEN}' AND kg_limit(grade) IS NOT NULL
                                   AND county IS NOT NULL GROUP BY 1""",
            "没有可对照标准的幼儿园班级（年级应为小班、中班、大班或混合班）",
        ),
        "registered_in_school_rate": (
            f"""SELECT hukou_county AS county, count(*) FILTER (WHERE status IN {IN_SCHOOL}) AS numerator,
                       count(*) AS denominator, '' AS basis
                {persons_base} AND coalesce(category, '建档立卡') = '建档立卡' GROUP BY 1""",
            "比对结果中没有义务教育年龄的建档立卡儿童",
        ),
        "unlifted_out_of_school": (
            f"""SELECT hukou_county AS county,
                       count(*) FILTER (WHERE poverty_status = '未脱贫' AND status NOT IN {IN_SCHOOL}) AS numerator,
                       NULL::BIGINT AS denominator, '' AS basis {persons_base} GROUP BY 1""",
            "比对结果中没有义务教育年龄的儿童",
        ),
        "home_teaching_coverage": (
            f"""SELECT hukou_county AS county, count(*) FILTER (WHERE status = 'HOME_TEACHING') AS numerator,
                       count(*) AS denominator, '' AS basis
                {persons_base} AND nullif(trim(disability), '') IS NOT NULL
                               AND status NOT IN ('IN_SCHOOL', 'OUT_OF_PROVINCE') GROUP BY 1""",
            "没有未在学校就读的义务教育年龄残疾儿童",
        ),
        "special_school_county_coverage": (
            """WITH counties AS (SELECT DISTINCT hukou_county AS county FROM persons WHERE hukou_county IS NOT NULL
                                 UNION SELECT DISTINCT county_code FROM schools_in),
                    sp AS (SELECT DISTINCT county_code AS county FROM schools_in
                           WHERE (special = '是' OR stage = '特教') AND coalesce(state, '在办') = '在办')
               SELECT c.county, (sp.county IS NOT NULL)::INTEGER AS numerator, 1 AS denominator, '' AS basis
               FROM counties c LEFT JOIN sp USING (county)""",
            "没有任何县",
        ),
    }


def compute_targets(run: RunDir, previous: RunDir | None = None, config: IndicatorConfig | None = None,
                    *, codes: tuple[str, ...] | None = None) -> pa.Table:
    """Every declared indicator at county, city and province level, with target, gap and change."""
    cfg = config or IndicatorConfig()
    table = _compute(run, cfg, codes)
    if previous is not None:
        table = _with_previous(table, _compute(previous, cfg, codes))
    return table


def _compute(run: RunDir, cfg: IndicatorConfig, codes: tuple[str, ...] | None) -> pa.Table:
    con = connect(run)
    try:
        present = _load_inputs(con, run)
        _prepare(con, run, cfg)
        reasons = availability(given_tables(run))
        gone = sorted((given_tables(run) & {"enrollment", "schools", "classes", "population"}) - present)
        for code in reasons:  # files the run read that are no longer where it read them
            needs = [t for t in gone if t in BY_CODE[code].tables or (t == "enrollment" and code in USES_ENROLLMENT)]
            if needs and not reasons[code]:
                reasons[code] = "比对时的输入文件已不在原处：" + "、".join(needs)
        queries = _queries(school_year(run.term), cfg)
        parts: list[dict[str, Any]] = []
        for ind in INDICATORS:
            if codes and ind.code not in codes:
                continue
            if reasons[ind.code]:
                parts.append(_missing(ind, cfg, reasons[ind.code] or ""))
                continue
            sql, empty = queries[ind.code]
            got = _rolled_up(con, sql)
            if not got:
                parts.append(_missing(ind, cfg, empty))
            parts.extend(_row(ind, cfg, r) for r in got)
        return pa.Table.from_pylist(parts, schema=SCHEMA)
    finally:
        con.close()


def _rolled_up(con: Any, sql: str) -> list[dict[str, Any]]:
    levels = " UNION ALL ".join(
        f"SELECT '{level}' AS level, rpad(left(county, {w}), 6, '0') AS region, sum(numerator)::DOUBLE AS numerator, "
        f"sum(denominator)::DOUBLE AS denominator, string_agg(DISTINCT nullif(basis, ''), '；') AS basis "
        f"FROM base WHERE county IS NOT NULL GROUP BY ALL"
        for level, w in LEVEL_WIDTH.items()
    )
    cur = con.execute(f"WITH base AS ({sql}) {levels} ORDER BY 1, 2")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _row(ind: Indicator, cfg: IndicatorConfig, r: dict[str, Any]) -> dict[str, Any]:
    target, year = target_of(ind.code, cfg)
    num, den = r["numerator"], r["denominator"]
    note = ""
    if ind.is_rate:
        value = num / den if den else None
        if not den:
            note = "分母为 0，无法计算"
    else:
        value, den = num, None
    return {"code": ind.code, "name": ind.name, "unit": ind.unit, "level": r["level"], "region": r["region"],
            "region_name": region_name(r["region"]), "value": value, "numerator": num, "denominator": den,
            "target": target, "target_year": year, "gap": gap(ind, value, target), "previous": None,
            "change": None, "basis": r["basis"] or "", "note": note}


def _missing(ind: Indicator, cfg: IndicatorConfig, reason: str) -> dict[str, Any]:
    target, year = target_of(ind.code, cfg)
    return {"code": ind.code, "name": ind.name, "unit": ind.unit, "level": "", "region": "", "region_name": "",
            "value": None, "numerator": None, "denominator": None, "target": target, "target_year": year,
            "gap": None, "previous": None, "change": None, "basis": "", "note": "未计算：" + reason}


def _with_previous(now: pa.Table, before: pa.Table) -> pa.Table:
    prev = {(r["code"], r["level"], r["region"]): r["value"] for r in before.to_pylist() if r["region"]}
    rows = now.to_pylist()  # one row per indicator × region: small
    for r in rows:
        p = prev.get((r["code"], r["level"], r["region"]))
        r["previous"] = p
        r["change"] = r["value"] - p if p is not None and r["value"] is not None else None
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def not_computed(table: pa.Table) -> dict[str, str]:
    """code -> why, for the indicators the run could not compute."""
    return {r["code"]: r["note"] for r in table.to_pylist() if not r["region"]}


def value_of(table: pa.Table, code: str, region: str) -> float | None:
    for r in table.to_pylist():
        if r["code"] == code and r["region"] == region:
            return r["value"]
    return None


def describe() -> list[dict[str, str]]:
    """The definitions as rows (docs, the report form's notes sheet, the API)."""
    return [{"code": i.code, "name": i.name, "numerator": i.numerator, "denominator": i.denominator,
             "tables": "、".join(i.tables), "uses": i.uses, "level": i.level, "source": i.source, "unit": i.unit,
             "direction": "越高越好" if i.higher_is_better else "越低越好"} for i in INDICATORS]


__all__ = ["BY_CODE", "SCHEMA", "compute_targets", "describe", "not_computed", "value_of", "school_year"]
