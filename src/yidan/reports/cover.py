"""The cover sheet: a region's figures, the run, the term, and when the workbook was made.

Every figure comes straight from the run: schooling statuses from `summary.parquet`
(dimension `status`), findings and amounts from `findings.parquet`. Tests compare the
cover against those files, so nobody has to trust a second count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from yidan.contract.codes import FAMILY_LABELS, FINDING_CODES, STATUSES
from yidan.contract.outputs import poverty_rank
from yidan.reports.regions import region_name
from yidan.reports.runsql import rows
from yidan.runs.rundir import RunDir

LEVEL_LABELS = {"county": "县（市、区）", "city": "市（州）", "province": "省"}
AGE_GROUPS = ("学前", "义务教育", "高中阶段")
# statuses of a child who is in education (the rest are counted as "not in school" per group)
IN_SCHOOL = ("IN_SCHOOL", "HOME_TEACHING", "OUT_OF_PROVINCE", "COMPLETED")


@dataclass
class CodeFigure:
    code: str
    label: str
    family: str
    count: int = 0
    amount_expected: Decimal = Decimal("0.00")
    amount_paid: Decimal = Decimal("0.00")


@dataclass
class CoverFigures:
    """A region's figures as the cover shows them."""

    region: str
    level: str
    statuses: dict[str, int] = field(default_factory=dict)  # status code -> children
    codes: dict[str, CodeFigure] = field(default_factory=dict)  # finding code -> figure
    # status code -> age group -> children (from the summary's status_detail rows; empty for older runs)
    by_age: dict[str, dict[str, int]] = field(default_factory=dict)
    # (人员类别, 脱贫状态) -> (children, of them at compulsory age, of them not in school)
    groups: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)

    @property
    def children(self) -> int:
        return sum(self.statuses.values())

    @property
    def findings(self) -> int:
        return sum(f.count for f in self.codes.values())


def region_predicate(level: str, region: str, column: str = "county") -> str:
    """SQL condition selecting the counties of a region (county = 6 digits, city 4, province 2)."""
    width = {"county": 6, "city": 4, "province": 2}[level]
    prefix = str(region)[:width]
    if not prefix.isdigit():
        raise ValueError(region)
    return f"left({column}, {width}) = '{prefix}'"


def cover_figures(con: Any, level: str, region: str) -> CoverFigures:
    where = region_predicate(level, region)
    fig = CoverFigures(region=region, level=level, statuses=dict.fromkeys(STATUSES, 0))
    for r in rows(
        con,
        f"SELECT key, sum(count)::BIGINT AS n FROM summary WHERE dimension = 'status' AND {where} GROUP BY key",
    ):
        fig.statuses[r["key"]] = fig.statuses.get(r["key"], 0) + int(r["n"])
    for r in rows(
        con,
        f"SELECT key, age_group, sum(count)::BIGINT AS n FROM summary WHERE dimension = 'status_detail' "
        f"AND {where} GROUP BY ALL",
    ):
        fig.by_age.setdefault(r["key"], {})[r["age_group"] or ""] = int(r["n"])
    in_school = ", ".join(f"'{k}'" for k in IN_SCHOOL)
    for r in rows(
        con,
        f"""SELECT coalesce(category, '') AS c, coalesce(poverty_status, '') AS p, sum(count)::BIGINT AS n,
                   coalesce(sum(count) FILTER (WHERE age_group = '义务教育'), 0)::BIGINT AS k,
                   coalesce(sum(count) FILTER (WHERE key NOT IN ({in_school})), 0)::BIGINT AS o
            FROM summary WHERE dimension = 'status_detail' AND {where} GROUP BY ALL""",
    ):
        fig.groups[(r["c"], r["p"])] = (int(r["n"]), int(r["k"]), int(r["o"]))
    fig.codes = {c.code: CodeFigure(c.code, c.label, c.family) for c in FINDING_CODES.values()}
    for r in rows(
        con,
        f"""SELECT code, count(*) AS n,
                   coalesce(sum(amount_expected), 0)::DECIMAL(18,2) AS e,
                   coalesce(sum(amount_paid), 0)::DECIMAL(18,2) AS p
            FROM findings WHERE {where} GROUP BY code""",
    ):
        f = fig.codes.setdefault(r["code"], CodeFigure(r["code"], r["code"], "quality"))
        f.count, f.amount_expected, f.amount_paid = int(r["n"]), Decimal(r["e"]), Decimal(r["p"])
    return fig


def run_made_at(run: RunDir) -> str:
    m = run.manifest
    for key in ("finished_at", "completed_at", "created_at", "started_at"):
        if m.get(key):
            return str(m[key])[:19].replace("T", " ")
    return ""


def write_cover(ws: Any, fmt: dict[str, Any], run: RunDir, fig: CoverFigures, *, title: str) -> None:
    """Write the cover rows in order (the sheet is in constant-memory mode)."""
    ws.set_column(0, 0, 26)
    ws.set_column(1, 1, 22)
    ws.set_column(2, 5, 16)
    ws.hide_gridlines(2)
    ws.set_paper(9)  # A4, one page wide: the cover prints as it shows
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    r = 0
    ws.write_string(r, 0, title, fmt["title"])
    r += 2
    info = (
        ("地区", f"{region_name(fig.region)}（{fig.region}）"),
        ("层级", LEVEL_LABELS[fig.level]),
        ("比对批次", run.run_id),
        ("学期", run.term),
        ("比对完成时间", run_made_at(run)),
        ("工作簿生成时间", datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
    )
    for label, value in info:
        ws.write_string(r, 0, label, fmt["label"])
        ws.write_string(r, 1, value, fmt["text"])
        r += 1
    # 回头看: requested aid terms the run could not audit, and why (never left to manifest.json)
    skipped = ((run.manifest.get("notes") or {}).get("audit") or {}).get("not_audited_reasons") or {}
    for label, why in skipped.items():
        ws.write_string(r, 0, f"资助学期 {label} 未核查", fmt["label"])
        ws.write_string(r, 1, why, fmt["text"])
        r += 1
    r += 1
    ws.write_string(r, 0, "一、建档立卡学龄儿童就学状态", fmt["subtitle"])
    r += 1
    ages = bool(fig.by_age)
    ws.write_row(r, 0, ["就学状态", "人数"] + ([f"其中{a}" for a in AGE_GROUPS] if ages else []), fmt["header"])
    r += 1
    for code, label in STATUSES.items():
        ws.write_string(r, 0, label, fmt["text"])
        ws.write_number(r, 1, fig.statuses.get(code, 0), fmt["int"])
        if ages:
            ws.write_row(r, 2, [fig.by_age.get(code, {}).get(a, 0) for a in AGE_GROUPS], fmt["int"])
        r += 1
    ws.write_string(r, 0, "学龄儿童合计", fmt["label"])
    ws.write_number(r, 1, fig.children, fmt["int"])
    if ages:
        ws.write_row(r, 2, [sum(v.get(a, 0) for v in fig.by_age.values()) for a in AGE_GROUPS], fmt["int"])
    r += 1
    last = 1 + (len(AGE_GROUPS) if ages else 0)  # across the table: a note in one wrapped cell overprints the total
    ws.merge_range(r, 0, r, last, "注：“学籍未匹配”只计义务教育年龄儿童（即 K01）；3–5 岁无学籍为“未入园”，"
                   "16–18 岁为“非义务教育阶段未在校”。", fmt["note"])
    ws.set_row(r, 30)
    r += 2
    if fig.groups:
        ws.write_string(r, 0, "按人员类别和脱贫状态（未脱贫、返贫优先）", fmt["subtitle"])
        r += 1
        ws.write_row(r, 0, ["人员类别", "脱贫状态", "学龄儿童", "其中义务教育年龄", "其中未在校"], fmt["header"])
        r += 1
        for (cat, pov), (n, k, o) in sorted(fig.groups.items(), key=lambda g: (poverty_rank(g[0][1]), g[0])):
            ws.write_string(r, 0, cat or "（未填）", fmt["text"])
            ws.write_string(r, 1, pov or "（未填）", fmt["text"])
            ws.write_row(r, 2, [n, k, o], fmt["int"])
            r += 1
        r += 1
    ws.write_string(r, 0, "二、问题清单", fmt["subtitle"])
    r += 1
    ws.write_row(r, 0, ["问题编码", "问题类型", "类别", "问题数", "应发金额", "实发金额"], fmt["header"])
    r += 1
    for f in fig.codes.values():
        ws.write_string(r, 0, f.code, fmt["text"])
        ws.write_string(r, 1, f.label, fmt["text"])
        ws.write_string(r, 2, FAMILY_LABELS.get(f.family, f.family), fmt["text"])
        ws.write_number(r, 3, f.count, fmt["int"])
        ws.write_number(r, 4, float(f.amount_expected), fmt["amount"])
        ws.write_number(r, 5, float(f.amount_paid), fmt["amount"])
        r += 1
    ws.write_string(r, 0, "问题合计", fmt["label"])
    ws.write_number(r, 3, fig.findings, fmt["int"])
    ws.write_number(r, 4, float(sum(f.amount_expected for f in fig.codes.values())), fmt["amount"])
    ws.write_number(r, 5, float(sum(f.amount_paid for f in fig.codes.values())), fmt["amount"])
    r += 2
    if fig.level == "county":
        ws.merge_range(
            r, 0, r + 2, 5,
            "填写说明：请在各问题工作表的黄色列中逐条填写核实结论（下拉选择）、核实日期、核实人和说明；"
            "其余列受保护，请勿修改。填好后将本工作簿原样交回，由省级导入（yidan verify-import）。",
            fmt["note"],
        )
