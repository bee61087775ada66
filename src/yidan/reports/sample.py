"""A reproducible stratified inspection sample (抽样核查) for third-party evaluators.

Method, printed on the sample's cover:
- population: the run's registered school-age children (persons.parquet);
- strata: county (户籍县), city or schooling status, as asked;
- allocation: proportional, by the largest-remainder rule: each stratum gets the whole
  part of size × N_h ÷ N; the seats left go one each to the strata with the largest
  fractional parts, ties to the smaller stratum code;
- selection within a stratum: the children with the smallest MD5 of "seed|ID number".
  The order depends only on the seed and the ID, not on file order or engine, so the same
  inputs and seed give the same children on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import xlsxwriter

from yidan.contract.codes import STATUSES
from yidan.errors import ConfigError
from yidan.outfiles import atomic_output, output_dir
from yidan.reports import styles
from yidan.reports.regions import region_name
from yidan.reports.runsql import connect, rows
from yidan.runs.rundir import RunDir
from yidan.web.masking import mask_phone

STRATA = {
    "county": ("hukou_county", "户籍县"),
    "city": ("rpad(left(hukou_county, 4), 6, '0')", "户籍市州"),
    "status": ("status", "就学状态"),
}
METHOD = (
    "按比例分层抽样：各层样本量 = 总样本量 × 该层人数 ÷ 总人数，先取整数部分，剩余名额按小数部分从大到小"
    "逐一分配（小数部分相同时按层代码从小到大）；层内按“种子|身份证号”的 MD5 值从小到大抽取。"
    "相同的比对结果与种子必得相同的样本。"
)
SAMPLE_COLUMNS = (
    ("stratum", "分层", 12), ("stratum_name", "层名称", 14), ("draw_order", "层内顺序", 8),
    ("person_id", "身份证号", 22), ("name", "姓名", 10), ("gender", "性别", 6), ("birth_date", "出生日期", 12),
    ("age", "年龄", 6), ("poverty_status", "脱贫状态", 8), ("head_name", "户主姓名", 10),
    ("relation", "与户主关系", 8), ("phone", "联系电话", 14),
    ("hukou_county", "户籍县代码", 10), ("county_name", "县", 10), ("township_name", "乡镇", 12),
    ("village_name", "村", 14), ("status_label", "就学状态", 14),
    ("school_name", "学校", 22), ("stage", "学段", 6), ("grade", "年级", 8), ("class_id", "班级", 10),
    ("enrollment_status", "学籍状态", 8),
)
# an evaluator's list travels outside the education bureau: phones are masked as on the web lists
MASKED = {"phone": mask_phone}


@dataclass
class Stratum:
    code: str
    name: str
    population: int
    quota: float
    size: int = 0


@dataclass
class SampleResult:
    path: Path
    seed: int
    size: int
    by: str
    strata: list[Stratum] = field(default_factory=list)


def allocate(populations: dict[str, int], size: int) -> dict[str, int]:
    """Proportional allocation by the largest-remainder rule (see the module docstring)."""
    total = sum(populations.values())
    if total == 0:
        return dict.fromkeys(populations, 0)
    size = min(size, total)
    quotas = {k: size * n / total for k, n in populations.items()}
    alloc = {k: math.floor(q) for k, q in quotas.items()}
    left = size - sum(alloc.values())
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - alloc[k]), k))[:left]:
        alloc[k] += 1
    return alloc


def draw_sample(run: RunDir, size: int, by: str, seed: int, out: Path) -> SampleResult:
    """Draw the sample and write it as a workbook at `out`, cover first."""
    if by not in STRATA:
        raise ConfigError(f"不支持的分层方式：{by}", hint="可选 county（县）、city（市州）、status（就学状态）。")
    if size < 1:
        raise ConfigError(f"样本量须为正整数：{size}", hint="例如 --size 200。")
    run.require_complete()
    expr, _ = STRATA[by]
    con = connect(run)
    try:
        pops = {r["s"]: int(r["n"]) for r in rows(
            con, f"SELECT {expr} AS s, count(*) AS n FROM persons WHERE {expr} IS NOT NULL GROUP BY 1 ORDER BY 1")}
        alloc = allocate(pops, size)
        total = sum(pops.values())
        strata = [Stratum(k, _stratum_name(by, k), n, size * n / total if total else 0.0, alloc[k])
                  for k, n in pops.items()]
        con.register("alloc", pa.table({"s": list(alloc), "n": list(alloc.values())}))
        cur = con.execute(
            f"""SELECT * FROM (
                  SELECT {expr} AS stratum, row_number() OVER (PARTITION BY {expr}
                         ORDER BY md5(? || '|' || person_id), person_id) AS draw_order, p.*
                  FROM persons p) x
                JOIN alloc a ON a.s = x.stratum
                WHERE x.draw_order <= a.n ORDER BY stratum, draw_order""",
            [str(seed)],
        )
        cols = [d[0] for d in cur.description]
        drawn = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    for d in drawn:
        d["stratum_name"] = _stratum_name(by, d["stratum"])
    result = SampleResult(Path(out), seed, len(drawn), by, strata)
    _write(run, result, drawn)
    return result


def _stratum_name(by: str, code: str) -> str:
    return STATUSES.get(code, code) if by == "status" else region_name(code)


def _write(run: RunDir, result: SampleResult, drawn: list[dict]) -> None:
    output_dir(result.path.parent)
    with atomic_output(result.path) as tmp:
        _write_book(run, result, drawn, tmp)


def _write_book(run: RunDir, result: SampleResult, drawn: list[dict], path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                                "strings_to_formulas": False, "strings_to_urls": False})
    fmt = styles.formats(wb)
    cover = wb.add_worksheet("抽样说明")
    cover.set_column(0, 0, 16)
    cover.set_column(1, 1, 18)
    cover.set_column(2, 4, 14)
    cover.write_string(0, 0, f"{run.term} 建档立卡学龄儿童抽样核查名单", fmt["title"])
    info = (("比对批次", run.run_id), ("学期", run.term), ("随机种子", str(result.seed)),
            ("分层方式", STRATA[result.by][1]), ("总体人数", str(sum(s.population for s in result.strata))),
            ("样本量", str(result.size)), ("生成时间", datetime.now().strftime("%Y-%m-%d %H:%M:%S")))
    for i, (k, v) in enumerate(info, start=2):
        cover.write_string(i, 0, k, fmt["label"])
        cover.write_string(i, 1, v, fmt["text"])
    r = len(info) + 2
    cover.write_string(r, 0, "抽样方法", fmt["label"])
    cover.merge_range(r, 1, r + 3, 6, METHOD, fmt["note"])
    r += 5
    cover.write_row(r, 0, ["层代码", "层名称", "层人数", "按比例应抽", "实抽人数"], fmt["header"])
    for s in result.strata:
        r += 1
        cover.write_string(r, 0, s.code, fmt["text"])
        cover.write_string(r, 1, s.name, fmt["text"])
        cover.write_number(r, 2, s.population, fmt["int"])
        cover.write_number(r, 3, round(s.quota, 2))
        cover.write_number(r, 4, s.size, fmt["int"])
    ws = wb.add_worksheet("样本名单")
    for i, (_, header, width) in enumerate(SAMPLE_COLUMNS):
        ws.set_column(i, i, width)
        ws.write_string(0, i, header, fmt["header"])
    for n, d in enumerate(drawn, start=1):
        for i, (key, _, _) in enumerate(SAMPLE_COLUMNS):
            value = d.get(key)
            if value is None:
                continue
            if key in MASKED:
                ws.write_string(n, i, MASKED[key](str(value)), fmt["text"])
            elif key in ("age", "draw_order"):
                ws.write_number(n, i, int(value), fmt["int"])
            else:
                ws.write_string(n, i, str(value), fmt["text"])
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(drawn), 1), len(SAMPLE_COLUMNS) - 1)
    wb.close()
