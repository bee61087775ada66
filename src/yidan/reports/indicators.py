"""Indicators for every level, computed from run directories without anyone filling a form.

One long table (`indicators.parquet`): indicator, label, unit, level (county / city /
province), region, key (a status, family, term or "" ), value. Each indicator is a
named SQL query over the run's Parquet files; the three levels come from the same query
grouped by a wider region code, so a province figure is always the sum of its counties.

Definitions (documented here because evaluators ask):
- in school (在校) for the compulsory-age share: IN_SCHOOL, HOME_TEACHING or OUT_OF_PROVINCE
  (studying, just not in an ordinary local classroom);
- returns (劝返复学): dropped out in the previous run, in school (as above) now;
- new dropouts (新增辍学): dropped out now, a registered child in the previous run but not dropped out;
- repeat dropouts (反复辍学): dropped out now, in school in the previous run, and dropped out in an
  earlier run still; needs two earlier runs (`previous` as a list, newest first);
- aid coverage (资助覆盖率): share of entitled child-terms not missed (1 − Z01 ÷ entitled);
- large classes: 56–65 pupils; very large: 66 or more (classes of the run's term, by school county).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from yidan.reports.regions import region_name
from yidan.reports.runsql import connect
from yidan.runs.rundir import RunDir

LEVEL_WIDTH = {"county": 6, "city": 4, "province": 2}
IN_SCHOOL = "('IN_SCHOOL', 'HOME_TEACHING', 'OUT_OF_PROVINCE')"
LARGE, VERY_LARGE = (56, 65), 66
COMPULSORY_STAGES = "('小学', '初中')"  # the large-class targets concern compulsory-education classes

SCHEMA = pa.schema(
    [("indicator", pa.string()), ("label", pa.string()), ("unit", pa.string()), ("level", pa.string()),
     ("region", pa.string()), ("region_name", pa.string()), ("key", pa.string()), ("value", pa.float64()),
     ("numerator", pa.float64()), ("denominator", pa.float64()), ("basis", pa.string())]
)

# name -> (label, unit, SQL returning county, key, value)  — counts are summed to wider regions
COUNTS: dict[str, tuple[str, str, str]] = {
    "children_by_status": (
        "建档立卡学龄儿童（按就学状态）", "人",
        "SELECT hukou_county AS county, status AS key, count(*) AS value FROM persons GROUP BY ALL",
    ),
    "compulsory_children": (
        "义务教育阶段建档立卡儿童", "人",
        "SELECT hukou_county AS county, '' AS key, count(*) AS value FROM persons WHERE compulsory_age GROUP BY ALL",
    ),
    "compulsory_in_school": (
        "义务教育阶段在校（含送教上门、省外就读）", "人",
        f"SELECT hukou_county AS county, '' AS key, count(*) AS value FROM persons "
        f"WHERE compulsory_age AND status IN {IN_SCHOOL} GROUP BY ALL",
    ),
    "dropouts": (
        "义务教育阶段辍学", "人",
        "SELECT hukou_county AS county, '' AS key, count(*) AS value FROM persons "
        "WHERE compulsory_age AND status = 'DROPPED_OUT' GROUP BY ALL",
    ),
    "home_teaching": (
        "送教上门", "人",
        "SELECT hukou_county AS county, '' AS key, count(*) AS value FROM persons "
        "WHERE status = 'HOME_TEACHING' GROUP BY ALL",
    ),
    "out_of_province": (
        "省外就读", "人",
        "SELECT hukou_county AS county, '' AS key, count(*) AS value FROM persons "
        "WHERE status = 'OUT_OF_PROVINCE' GROUP BY ALL",
    ),
    "aid_entitled": (
        "应资助人次", "人次",
        "SELECT county, term AS key, sum(count) AS value FROM summary WHERE dimension = 'aid' GROUP BY ALL",
    ),
    "aid_amount_expected": (
        "应资助金额", "元",
        "SELECT county, term AS key, sum(amount_expected) AS value FROM summary WHERE dimension = 'aid' GROUP BY ALL",
    ),
    "aid_amount_paid": (
        "实发金额", "元",
        "SELECT county, term AS key, sum(amount_paid) AS value FROM summary WHERE dimension = 'aid' GROUP BY ALL",
    ),
    "aid_amount_missed": (
        "漏发金额（漏助 + 少发）", "元",
        "SELECT county, term AS key, sum(amount_missed) AS value FROM summary WHERE dimension = 'aid' GROUP BY ALL",
    ),
    "aid_amount_duplicate": (
        "重复发放金额", "元",
        "SELECT county, term AS key, sum(amount_duplicate) AS value FROM summary "
        "WHERE dimension = 'aid' GROUP BY ALL",
    ),
    "aid_missed": (
        "漏助（人次）", "人次",
        "SELECT county, term AS key, count(*) AS value FROM findings WHERE code = 'Z01' GROUP BY ALL",
    ),
    "aid_duplicate": (
        "重复资助（人次）", "人次",
        "SELECT county, term AS key, count(*) AS value FROM findings WHERE code = 'Z02' GROUP BY ALL",
    ),
    "findings_open": (
        "本次问题（待核实销号）", "条",
        "SELECT county, family AS key, count(*) AS value FROM findings_f GROUP BY ALL",
    ),
    "classes": (
        "班级数（按学段）", "个",
        "SELECT county, coalesce(stage, '') AS key, count(*) AS value FROM class_sizes GROUP BY ALL",
    ),
    "compulsory_classes": (
        "义务教育阶段班级数（小学、初中）", "个",
        f"SELECT county, '' AS key, count(*) AS value FROM class_sizes WHERE stage IN {COMPULSORY_STAGES} GROUP BY ALL",
    ),
    "large_classes": (
        f"大班额（{LARGE[0]}–{LARGE[1]}人，各学段合计）", "个",
        f"SELECT county, '' AS key, count(*) AS value FROM class_sizes "
        f"WHERE pupils BETWEEN {LARGE[0]} AND {LARGE[1]} GROUP BY ALL",
    ),
    "very_large_classes": (
        f"超大班额（{VERY_LARGE}人及以上，各学段合计）", "个",
        f"SELECT county, '' AS key, count(*) AS value FROM class_sizes WHERE pupils >= {VERY_LARGE} GROUP BY ALL",
    ),
    "large_classes_by_stage": (
        f"大班额（{LARGE[0]}–{LARGE[1]}人，按学段）", "个",
        f"SELECT county, coalesce(stage, '') AS key, count(*) AS value FROM class_sizes "
        f"WHERE pupils BETWEEN {LARGE[0]} AND {LARGE[1]} GROUP BY ALL",
    ),
    "very_large_classes_by_stage": (
        f"超大班额（{VERY_LARGE}人及以上，按学段）", "个",
        f"SELECT county, coalesce(stage, '') AS key, count(*) AS value FROM class_sizes "
        f"WHERE pupils >= {VERY_LARGE} GROUP BY ALL",
    ),
    "large_classes_compulsory": (
        f"义务教育大班额（{LARGE[0]}–{LARGE[1]}人）", "个",
        f"SELECT county, '' AS key, count(*) AS value FROM class_sizes "
        f"WHERE stage IN {COMPULSORY_STAGES} AND pupils BETWEEN {LARGE[0]} AND {LARGE[1]} GROUP BY ALL",
    ),
    "very_large_classes_compulsory": (
        f"义务教育超大班额（{VERY_LARGE}人及以上）", "个",
        f"SELECT county, '' AS key, count(*) AS value FROM class_sizes "
        f"WHERE stage IN {COMPULSORY_STAGES} AND pupils >= {VERY_LARGE} GROUP BY ALL",
    ),
}
BETWEEN_RUNS: dict[str, tuple[str, str, str]] = {
    "returns": (
        "劝返复学（上次辍学、本次在校）", "人",
        f"SELECT p.hukou_county AS county, '' AS key, count(*) AS value FROM persons p "
        f"JOIN prev_persons q USING (person_id) WHERE q.status = 'DROPPED_OUT' AND p.status IN {IN_SCHOOL} "
        "GROUP BY ALL",
    ),
    "new_dropouts": (
        "新增辍学", "人",
        "SELECT p.hukou_county AS county, '' AS key, count(*) AS value FROM persons p "
        "JOIN prev_persons q USING (person_id) WHERE p.status = 'DROPPED_OUT' AND q.status <> 'DROPPED_OUT' "
        "GROUP BY ALL",
    ),
    "findings_closed": (
        "已销号问题（上次有、本次无）", "条",
        "SELECT q.county, q.family AS key, count(*) AS value FROM prev_findings_f q "
        "ANTI JOIN findings f USING (finding_key) GROUP BY ALL",
    ),
}
REPEAT = (
    "repeat_dropouts", "反复辍学（曾辍学、复学后再次辍学）", "人",
    f"SELECT p.hukou_county AS county, '' AS key, count(*) AS value FROM persons p "
    f"JOIN prev_persons q USING (person_id) WHERE p.status = 'DROPPED_OUT' AND q.status IN {IN_SCHOOL} "
    "AND p.person_id IN (SELECT person_id FROM older_persons WHERE status = 'DROPPED_OUT') GROUP BY ALL",
)
# ratios: name -> (label, numerator indicator, denominator indicator, 1 - ratio?)
RATIOS: dict[str, tuple[str, str, str, bool]] = {
    "compulsory_in_school_rate": ("义务教育阶段在校率", "compulsory_in_school", "compulsory_children", False),
    "aid_coverage": ("资助覆盖率（应助尽助）", "aid_missed", "aid_entitled", True),
    "large_class_share": ("义务教育大班额占比", "large_classes_compulsory", "compulsory_classes", False),
    "very_large_class_share": ("义务教育超大班额占比", "very_large_classes_compulsory", "compulsory_classes", False),
}


def compute_indicators(run: RunDir, previous: RunDir | Sequence[RunDir] | None = None) -> pa.Table:
    """Every indicator at county, city and province level (see the module docstring)."""
    history = [previous] if isinstance(previous, RunDir) else list(previous or [])
    con = connect(run)
    try:
        _prepare(con, run, "")
        queries = dict(COUNTS)
        if history:
            connect(history[0], prefix="prev_", con=con)
            _prepare(con, history[0], "prev_")
            queries.update(BETWEEN_RUNS)
        if len(history) >= 2:
            older = " UNION ALL ".join(
                f"SELECT person_id, status FROM read_parquet('{str(r.parquet_path('persons'))}')" for r in history[1:]
            )
            con.execute(f"CREATE VIEW older_persons AS {older}")
            queries[REPEAT[0]] = REPEAT[1:]
        parts = [_counted(con, name, *spec) for name, spec in queries.items()]
        table = pa.concat_tables(parts) if parts else SCHEMA.empty_table()
        return pa.concat_tables([table, _ratios(table)])
    finally:
        con.close()


def write_indicators(run: RunDir, out: Path, previous: RunDir | Sequence[RunDir] | None = None) -> Path:
    from yidan.outfiles import atomic_output, output_dir

    path = output_dir(out) / "indicators.parquet"
    table = compute_indicators(run, previous)
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)
    return path


def _prepare(con: Any, run: RunDir, prefix: str) -> None:
    """Views the queries share: findings with their family; class sizes of the run's term."""
    if "family" in _columns(con, f"{prefix}findings"):
        con.execute(f"CREATE OR REPLACE VIEW {prefix}findings_f AS SELECT * FROM {prefix}findings")
    else:
        con.execute(f"CREATE OR REPLACE VIEW {prefix}findings_f AS SELECT *, {_family_case()} AS family "
                    f"FROM {prefix}findings")
    if prefix:
        return
    rows = con.execute("SELECT count(*) FROM summary WHERE dimension = 'class_size'").fetchone()[0]
    if rows:
        con.execute(  # recorded class sizes carry no stage: they count in the all-stage figures only
            "CREATE VIEW class_sizes AS SELECT county, key AS class, NULL::VARCHAR AS stage, count AS pupils "
            "FROM summary WHERE dimension = 'class_size'"
        )
    else:
        class_sizes_from_inputs(con, run)


def _columns(con: Any, view: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description]


def _family_case() -> str:
    from yidan.contract.codes import FINDING_CODES

    whens = " ".join(f"WHEN '{c.code}' THEN '{c.family}'" for c in FINDING_CODES.values())
    return f"CASE code {whens} END"


def class_sizes_from_inputs(con: Any, run: RunDir) -> None:
    """Class sizes from the run's enrollment files, when the run did not record them.

    Pupils 在读 in the run's term, by school county × school × grade × class. A run whose
    input files are gone gets an empty view (the indicator then shows nothing, not zero
    classes by mistake: the rows are simply absent).
    """
    paths = [Path(f["path"]) for f in run.manifest.get("inputs", []) if f.get("table") == "enrollment"]
    if paths and all(p.is_file() for p in paths):
        from yidan.ingest import load_table

        load_table(con, "enrollment", paths, default_term=run.term, name="enrollment_input")
        con.execute(
            "CREATE VIEW class_sizes AS SELECT school_county_code AS county, "
            "concat_ws('|', school_code, grade, class_id) AS class, stage, count(*) AS pupils FROM enrollment_input "
            f"WHERE enrollment_status = '在读' AND term = '{run.term}' AND class_id IS NOT NULL GROUP BY ALL"
        )
    else:
        con.execute("CREATE VIEW class_sizes AS SELECT NULL::VARCHAR AS county, NULL::VARCHAR AS class, "
                    "NULL::VARCHAR AS stage, NULL::BIGINT AS pupils WHERE false")


def _counted(con: Any, name: str, label: str, unit: str, sql: str) -> pa.Table:
    levels = " UNION ALL ".join(
        f"SELECT '{level}' AS level, rpad(left(county, {w}), 6, '0') AS region, key, sum(value)::DOUBLE AS value "
        f"FROM base WHERE county IS NOT NULL GROUP BY ALL"
        for level, w in LEVEL_WIDTH.items()
    )
    got = con.sql(f"WITH base AS ({sql}) {levels} ORDER BY 1, 2, 3").to_arrow_table()
    return _finish(got, name, label, unit)


def _finish(got: pa.Table, name: str, label: str, unit: str, basis: str = "") -> pa.Table:
    regions = got.column("region").to_pylist()
    n = got.num_rows

    def col(c: str) -> Any:
        return got.column(c) if c in got.column_names else pa.nulls(n, pa.float64())

    return pa.table(
        {"indicator": [name] * n, "label": [label] * n, "unit": [unit] * n, "level": got.column("level"),
         "region": regions, "region_name": [region_name(r) for r in regions],
         "key": [k if k is not None else "" for k in got.column("key").to_pylist()], "value": got.column("value"),
         "numerator": col("numerator"), "denominator": col("denominator"), "basis": [basis] * n},
        schema=SCHEMA,
    )


def _ratios(table: pa.Table) -> pa.Table:
    """Ratios from the counted table itself, so a rate always matches its numerator and denominator."""
    con = duckdb.connect()
    try:
        con.register("ind", table)
        parts = []
        for name, (label, num, den, complement) in RATIOS.items():
            value = "1 - coalesce(n.value, 0) / d.value" if complement else "coalesce(n.value, 0) / d.value"
            numerator = "d.value - coalesce(n.value, 0)" if complement else "coalesce(n.value, 0)"
            labels = {r["indicator"]: r["label"] for r in table.select(["indicator", "label"]).to_pylist()}
            num_label, den_label = labels.get(num, num), labels.get(den, den)
            basis = (f"（{den_label} − {num_label}）÷ {den_label}" if complement else f"{num_label} ÷ {den_label}")
            got = con.sql(
                f"""SELECT d.level, d.region, '' AS key, {value} AS value, {numerator} AS numerator,
                           d.value AS denominator
                    FROM (SELECT level, region, sum(value) AS value FROM ind WHERE indicator = '{den}' GROUP BY ALL) d
                    LEFT JOIN (SELECT level, region, sum(value) AS value FROM ind WHERE indicator = '{num}'
                               GROUP BY ALL) n USING (level, region)
                    WHERE d.value > 0 ORDER BY 1, 2"""
            ).to_arrow_table()
            parts.append(_finish(got, name, label, "%", basis))
        return pa.concat_tables(parts)
    finally:
        con.close()


def indicator_value(table: pa.Table, indicator: str, region: str, key: str = "") -> float | None:
    """One figure from the table (for charts, covers and tests of their own)."""
    for row in table.filter(pa.compute.equal(table["indicator"], indicator)).to_pylist():
        if row["region"] == region and row["key"] == key:
            return row["value"]
    return None




def write_indicator_workbook(table: pa.Table, run: RunDir, path: Path) -> Path:
    """The indicators as one province workbook: a sheet per level, one row per figure."""
    from yidan.outfiles import atomic_output

    with atomic_output(path) as tmp:
        _write_indicator_book(table, tmp)
    return Path(path)


def _write_indicator_book(table: pa.Table, path: Path) -> None:
    import xlsxwriter

    from yidan.reports import styles

    levels = {"province": "全省", "city": "分市州", "county": "分县"}
    headers = ("指标", "地区代码", "地区", "分项", "数值", "单位", "分子", "分母", "口径（分子 ÷ 分母）")
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    fmt = styles.formats(wb)
    from yidan.contract.codes import FAMILY_LABELS, STATUSES

    rows_ = sorted(table.to_pylist(), key=lambda r: (r["level"], r["region"], r["indicator"], r["key"]))
    for level, sheet in levels.items():
        ws = wb.add_worksheet(sheet)
        for i, w in enumerate((34, 10, 12, 16, 14, 6, 12, 12, 60)):
            ws.set_column(i, i, w)
        ws.write_row(0, 0, headers, fmt["header"])
        n = 0
        for r in rows_:
            if r["level"] != level:
                continue
            n += 1
            key = STATUSES.get(r["key"]) or FAMILY_LABELS.get(r["key"]) or r["key"]
            ws.write_row(n, 0, (r["label"], r["region"], r["region_name"], key), fmt["text"])
            if r["unit"] == "%":
                ws.write_number(n, 4, r["value"], fmt["pct"])
            else:
                ws.write_number(n, 4, r["value"], fmt["amount"] if r["unit"] == "元" else fmt["int"])
            ws.write_string(n, 5, "" if r["unit"] == "%" else r["unit"], fmt["text"])
            if r["unit"] == "%":  # every rate states its numerator and denominator on the sheet
                ws.write_number(n, 6, r["numerator"] or 0, fmt["int"])
                ws.write_number(n, 7, r["denominator"] or 0, fmt["int"])
                ws.write_string(n, 8, r["basis"] or "", fmt["text"])
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(n, 1), len(headers) - 1)
    wb.close()
