"""Inspection as 国检 does it: a multi-stage sample (counties, then townships or villages, then
households), and the defect rate per county from the inspectors' results, with a Wilson interval.

Stages, printed on the sample's cover:
- each stage names a level (county, township, village, household) and how many of its units are
  drawn inside each unit drawn at the stage before: `fixed` n units, or a `share` of them (at least
  one, rounded up); the first stage draws from the whole run;
- inside a parent unit, units are taken in the order of the MD5 of "seed|stage|unit code", so the
  same run and seed give the same sample on any machine, whatever the file order;
- every registered school-age child of a drawn household (or, when the last stage is not households,
  of the last drawn units) is in the sample, with the findings of the run about the child as evidence.

The inspector fills 核查结果 (无问题 / 有问题) and 问题说明; `inspection_results` reads the returned
workbooks and gives, per county, checked children, defects and the defect rate's 95% Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from yidan.errors import ConfigError, InputError
from yidan.outfiles import atomic_output, output_dir, safe_cell
from yidan.reports import styles
from yidan.reports.regions import region_name
from yidan.reports.runsql import connect, has_view
from yidan.runs.rundir import RunDir
from yidan.web.masking import mask_phone

LEVELS = {"county": ("hukou_county", "县"), "township": ("hukou_township", "乡镇"),
          "village": ("hukou_village", "村"), "household": ("household_id", "户")}
MODES = {"fixed": "每个上级单位抽取固定个数", "share": "每个上级单位按比例抽取（向上取整，至少 1 个）"}
RESULTS = ("无问题", "有问题")
RESULT_HEADER, NOTE_HEADER = "核查结果", "问题说明"
COLUMNS = (
    ("hukou_county", "户籍县代码", 10), ("county_name", "县", 10), ("township_name", "乡镇", 12),
    ("village_name", "村", 14), ("household_id", "户编号", 16), ("head_name", "户主姓名", 10),
    ("phone", "联系电话", 14), ("person_id", "身份证号", 22), ("name", "姓名", 10), ("gender", "性别", 6),
    ("age", "年龄", 6), ("status_label", "就学状态", 14), ("school_name", "学校", 22),
    ("evidence", "比对发现（佐证）", 50),
)
SHEET = "抽查名单"


@dataclass(frozen=True)
class Stage:
    level: str
    mode: str
    value: float

    def describe(self) -> str:
        label = LEVELS[self.level][1]
        if self.mode == "fixed":
            return f"抽{label}：每个上级单位抽 {int(self.value)} 个"
        return f"抽{label}：每个上级单位抽 {self.value:.0%}（向上取整，至少 1 个）"


def parse_stages(text: str) -> list[Stage]:
    """"county:fixed:2,township:share:0.5,household:fixed:5" -> stages, checked, in Chinese when wrong."""
    stages: list[Stage] = []
    for part in (p.strip() for p in text.replace("，", ",").split(",") if p.strip()):
        bits = part.split(":")
        if len(bits) != 3 or bits[0] not in LEVELS or bits[1] not in MODES:
            raise ConfigError(f"抽样阶段写法不对：{part[:40]}",
                              hint="写作 层级:方式:数值，如 county:fixed:2,township:share:0.5,household:fixed:5；"
                                   "层级可选 county、township、village、household，方式可选 fixed、share。")
        try:
            value = float(bits[2])
        except ValueError:
            raise ConfigError(f"抽样阶段的数值不对：{part[:40]}", hint="fixed 写正整数，share 写 0 到 1 之间的小数。") from None
        if (bits[1] == "fixed" and (value < 1 or not value.is_integer())) or (bits[1] == "share" and not 0 < value <= 1):
            raise ConfigError(f"抽样阶段的数值不对：{part[:40]}", hint="fixed 写正整数，share 写 0 到 1 之间的小数。")
        stages.append(Stage(bits[0], bits[1], value))
    order = list(LEVELS)
    if not stages or [order.index(s.level) for s in stages] != sorted({order.index(s.level) for s in stages}):
        raise ConfigError("抽样阶段须从大到小、不重复：县、乡镇、村、户。", hint="如 county:fixed:2,township:fixed:2,household:fixed:5。")
    return stages


@dataclass
class InspectionSample:
    path: Path
    seed: int
    stages: list[Stage]
    units: list[int]  # units drawn at each stage
    children: int


def draw_rows(run: RunDir, stages: list[Stage], seed: int) -> tuple[list[int], list[dict[str, Any]]]:
    """The units drawn at each stage and the sampled children (a sample: hundreds of rows), in SQL."""
    run.require_complete()
    con = connect(run)
    try:
        where: list[str] = []
        units: list[int] = []
        parent = "''"
        for i, stage in enumerate(stages):
            col = LEVELS[stage.level][0]
            scope = " AND ".join([f"{col} IS NOT NULL", *where])
            limit = (str(int(stage.value)) if stage.mode == "fixed"
                     else f"greatest(1, ceil(n * {stage.value}))::BIGINT")
            con.execute(f"""CREATE OR REPLACE TEMP TABLE stage_{i} AS
                SELECT unit FROM (
                  SELECT parent, unit, row_number() OVER (PARTITION BY parent
                           ORDER BY md5(? || '|' || {i} || '|' || unit), unit) AS k,
                         count(*) OVER (PARTITION BY parent) AS n
                  FROM (SELECT DISTINCT {parent} AS parent, {col} AS unit FROM persons WHERE {scope}))
                WHERE k <= {limit}""", [str(seed)])
            units.append(int(con.execute(f"SELECT count(*) FROM stage_{i}").fetchone()[0]))
            where.append(f"{col} IN (SELECT unit FROM stage_{i})")
            parent = col
        evidence = ("(SELECT person_id, string_agg(code || ' ' || label || coalesce('：' || detail, ''), '；' "
                    "ORDER BY code) AS evidence FROM findings GROUP BY person_id)") if has_view(con, "findings") \
            else "(SELECT NULL::VARCHAR AS person_id, NULL::VARCHAR AS evidence WHERE false)"
        cur = con.execute(f"""SELECT p.*, e.evidence FROM persons p LEFT JOIN {evidence} e USING (person_id)
                              WHERE {' AND '.join(where)}
                              ORDER BY hukou_county, hukou_township NULLS LAST, hukou_village NULLS LAST,
                                       household_id NULLS LAST, person_id""")
        cols = [d[0] for d in cur.description]
        return units, [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def draw_inspection(run: RunDir, stages: list[Stage], seed: int, out: Path) -> InspectionSample:
    """Draw the multi-stage sample and write the inspectors' workbook at `out`."""
    units, drawn = draw_rows(run, stages, seed)
    result = InspectionSample(Path(out), seed, stages, units, len(drawn))
    output_dir(result.path.parent)
    with atomic_output(result.path) as tmp:
        _write(run, result, drawn, tmp)
    return result


def _write(run: RunDir, result: InspectionSample, drawn: list[dict[str, Any]], path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    fmt = styles.formats(wb)
    cover = wb.add_worksheet("抽样说明")
    cover.set_column(0, 0, 16)
    cover.set_column(1, 1, 60)
    cover.write_string(0, 0, f"{run.term} 控辍保学与学生资助抽查名单（多阶段抽样）", fmt["title"])
    info = [("比对批次", run.run_id), ("学期", run.term), ("随机种子", str(result.seed)),
            *((f"第 {i + 1} 阶段", f"{s.describe()}，抽中 {n} 个") for i, (s, n) in
              enumerate(zip(result.stages, result.units, strict=True))),
            ("样本人数", str(result.children)), ("生成时间", datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
            ("填写说明", f"在「{RESULT_HEADER}」列选择 {' / '.join(RESULTS)}，有问题的在「{NOTE_HEADER}」写明。")]
    for i, (k, v) in enumerate(info, start=2):
        cover.write_string(i, 0, k, fmt["label"])
        cover.write_string(i, 1, v, fmt["text"])
    cover.write_string(len(info) + 3, 0, "抽样方法", fmt["label"])
    cover.write_string(len(info) + 3, 1, "各阶段在上一阶段抽中的单位内，按“种子|阶段|单位代码”的 MD5 值从小到大抽取；"
                                         "相同的比对结果与种子必得相同的样本。", fmt["note"])
    ws = wb.add_worksheet(SHEET)
    headers = [h for _, h, _ in COLUMNS] + [RESULT_HEADER, NOTE_HEADER]
    for i, (_, _, width) in enumerate(COLUMNS):
        ws.set_column(i, i, width)
    ws.set_column(len(COLUMNS), len(COLUMNS), 10, fmt["clerk"])
    ws.set_column(len(COLUMNS) + 1, len(COLUMNS) + 1, 30, fmt["clerk"])
    for i, h in enumerate(headers):
        ws.write_string(0, i, h, fmt["clerk_header"] if i >= len(COLUMNS) else fmt["header"])
    for n, d in enumerate(drawn, start=1):
        for i, (key, _, _) in enumerate(COLUMNS):
            value = d.get(key)
            if value is None:
                continue
            if key == "phone":
                ws.write_string(n, i, mask_phone(str(value)), fmt["text"])
            elif key == "age":
                ws.write_number(n, i, int(value), fmt["int"])
            else:
                ws.write_string(n, i, str(safe_cell(str(value)))[: styles.MAX_CELL], fmt["text"])
        ws.write_blank(n, len(COLUMNS), None, fmt["clerk"])
        ws.write_blank(n, len(COLUMNS) + 1, None, fmt["clerk"])
    if drawn:
        ws.data_validation(1, len(COLUMNS), len(drawn), len(COLUMNS),
                           {"validate": "list", "source": list(RESULTS), "error_message": "请选择：" + "、".join(RESULTS)})
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(drawn), 1), len(headers) - 1)
    ws.protect("", {"autofilter": True, "sort": True, "format_columns": True})
    wb.close()


# --- results ---------------------------------------------------------------------------------------------


def wilson(defects: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 0) for no observations."""
    if n == 0:
        return 0.0, 0.0
    p = defects / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class CountyResult:
    county: str
    name: str
    checked: int
    defects: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.defects / self.checked if self.checked else 0.0


def inspection_results(paths: list[Path]) -> list[CountyResult]:
    """Defect rate per county from returned sample workbooks (rows without a result are not counted)."""
    from python_calamine import CalamineWorkbook

    counts: dict[str, list[int]] = {}
    for path in paths:
        try:
            grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SHEET).to_python()
        except Exception:
            raise InputError(f"读不出抽查名单：{Path(path).name}（找不到「{SHEET}」工作表）。",
                             hint="请交回 yidan 生成的抽查名单工作簿，不要改工作表名。") from None
        header = [str(h).strip() for h in grid[0]] if grid else []
        if RESULT_HEADER not in header or "户籍县代码" not in header:
            raise InputError(f"抽查名单 {Path(path).name} 缺少「{RESULT_HEADER}」或「户籍县代码」列。",
                             hint="请在原工作簿中填写，不要删除或改名表头。")
        at, county_at = header.index(RESULT_HEADER), header.index("户籍县代码")
        for row in grid[1:]:
            result = str(row[at]).strip() if at < len(row) and row[at] is not None else ""
            if not result:
                continue
            if result not in RESULTS:
                raise InputError(f"抽查名单 {Path(path).name} 的核查结果无效：{result[:20]}", hint="请选择：" + "、".join(RESULTS))
            c = counts.setdefault(str(row[county_at]).strip(), [0, 0])
            c[0] += 1
            c[1] += result == "有问题"
    return [CountyResult(county, region_name(county), n, d, *wilson(d, n)) for county, (n, d) in sorted(counts.items())]

