"""走访台账: one printable PDF per village (or school) for the 三帮一 team that visits the children.

Each child of the unit's list gets a block: identity (ID masked), household head, masked phone,
户籍地 and school by name, each finding in plain words and the next step, and blank lines for the
visit's date and result and the signatures of 走访人 and 家长. The rows come from findings.parquet
(declared columns only) through DuckDB, a county at a time; the CJK font is embedded, subset once
per county to the characters the county's lists use, so a county of many villages is written fast.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from yidan.contract.outputs import poverty_rank_sql
from yidan.errors import ConfigError
from yidan.outfiles import atomic_output, output_dir
from yidan.reports.fonts import cjk_font_file
from yidan.reports.regions import region_name
from yidan.reports.runsql import connect, rows, sql_literal
from yidan.runs.rundir import RunDir
from yidan.web.masking import mask_id, mask_phone, scrub_text

UNITS = {"village": "村", "school": "学校"}
FIELDS = ("person_id", "name", "age", "poverty_status", "category", "head_name", "relation", "phone",
          "county_name", "township_name", "village_name", "township", "village", "school_code", "school_name",
          "stage", "grade", "class_id", "enrollment_status", "code", "label", "detail", "next_step", "county")
NAME_FIELDS = ("county", "county_name", "township", "township_name", "village", "village_name", "school_code",
               "school_name")
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')
NO_VILLAGE, NO_SCHOOL = "户籍村不详", "无学籍"
DIGITS = "0123456789"  # page numbers
VISIT_DATE, VISIT_RESULT = "走访日期：____________", "走访结果：________________________________________"
VISITOR, PARENT = "走访人签字：________________", "家长签字：________________"


@dataclass
class Child:
    row: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Unit:
    county: str
    key: str  # village code or school code ("" when the children have none)
    name: str
    children: list[Child]


def _where(by: str, regions: list[str] | None, unit: str | None) -> str:
    """Findings of the regions (a county and above by the responsible county, a township or village by
    the 户籍 code, as the web's region scope), and of one unit if given ("" the children without one)."""
    where = "TRUE"
    if regions is not None:
        where = "(" + " OR ".join(
            f"starts_with({'county' if len(r) <= 6 else 'village'}, {sql_literal(r)})" for r in regions
        ) + ")" if regions else "FALSE"
    if unit is not None:
        key = "village" if by == "village" else "school_code"
        where += f" AND coalesce({key}, '') = {sql_literal(unit)}"
    return where


def visit_units(run: RunDir, by: str, region: str) -> list[dict[str, Any]]:
    """The units of `region` that have a list: key, name and number of children (for the web's page)."""
    _check_by(by)
    con = connect(run)
    try:
        key = "village" if by == "village" else "school_code"
        names = ", ".join(f"any_value({f}) AS {f}" for f in NAME_FIELDS)
        got = rows(con, f"""
            SELECT coalesce({key}, '') AS key, count(DISTINCT person_id) AS children, {names}
            FROM findings WHERE {_where(by, [region], None)} GROUP BY coalesce({key}, '') ORDER BY county, key""")
        return [{"key": g["key"], "children": int(g["children"]), "name": _unit_name(g, by)} for g in got]
    finally:
        con.close()


def _check_by(by: str) -> None:
    if by not in UNITS:
        raise ConfigError(f"不支持的分组：{by}", hint="--by 可选 village（每村一份）或 school（每校一份）。")


def write_visit_books(run: RunDir, out: Path, by: str = "village", *, counties: list[str] | None = None,
                      unit: str | None = None, teams: dict[str, str] | None = None) -> list[Path]:
    """Write one 走访台账 PDF per village (`by="village"`) or school (`by="school"`) into `out`.

    `counties` limits them to those regions (a county and above by the responsible county; a township or
    village by the 户籍 code), `unit` to one village or school code ("" the children without one);
    `teams` maps a finding key to its 三帮一 team as the web holds it (a run directory has no team)."""
    _check_by(by)
    run.require_complete()
    out = output_dir(out)
    con = connect(run)
    try:
        where = _where(by, counties, unit)
        county_list = [r["county"] for r in rows(
            con, f"SELECT DISTINCT county FROM findings WHERE county IS NOT NULL AND {where} ORDER BY 1")]
        paths: list[Path] = []
        made = datetime.now().strftime("%Y-%m-%d %H:%M")
        for county in county_list:
            units = list(_units(con, county, by, where))
            if not units:
                continue
            pages = [_Texts.of(u, by, run.term, made, teams or {}) for u in units]
            with tempfile.TemporaryDirectory(prefix="yidan-font-") as tmp:
                font = _subset_font(pages, Path(tmp))
                for u, texts in zip(units, pages, strict=True):
                    path = out / _file_name(u, by, run.term)
                    with atomic_output(path) as target:
                        _write_pdf(target, texts, font)
                    paths.append(path)
        return paths
    finally:
        con.close()


def _file_name(unit: Unit, by: str, term: str) -> str:
    name = _UNSAFE.sub("_", unit.name)
    return f"{unit.county}_{unit.key or '0'}_{name}_走访台账_{term}.pdf"


def _units(con: Any, county: str, by: str, where: str) -> Iterator[Unit]:
    """The county's units in order, each with its children (priority children first) and their findings."""
    key = "village" if by == "village" else "school_code"
    cur = con.execute(
        f"SELECT {', '.join(FIELDS)}, finding_key FROM findings WHERE county = {sql_literal(county)} AND {where} "
        f"ORDER BY {key} NULLS LAST, {poverty_rank_sql('poverty_status')}, name, person_id, code")
    names = [d[0] for d in cur.description]
    unit: Unit | None = None
    while batch := cur.fetchmany(5000):
        for values in batch:
            r = dict(zip(names, values, strict=True))
            k = r[key] or ""
            if unit is None or unit.key != k:
                if unit is not None:
                    yield unit
                unit = Unit(county, k, _unit_name(r, by), [])
            if not unit.children or unit.children[-1].row["person_id"] != r["person_id"]:
                unit.children.append(Child(r))
            unit.children[-1].findings.append(r)
    if unit is not None:
        yield unit


def _unit_name(r: dict[str, Any], by: str) -> str:
    county = r["county_name"] or region_name(r["county"])
    if by == "school":
        return f"{county} {r['school_name'] or r['school_code'] or NO_SCHOOL}"
    if not r["village"]:
        return f"{county} {NO_VILLAGE}"
    return " ".join(x for x in (county, r["township_name"] or r["township"], r["village_name"] or r["village"]) if x)


@dataclass
class _Texts:
    """Every text of one PDF, made before the font is cut to the characters they use."""

    title: str
    note: str
    footer: str  # with {page} and {{nb}}
    blocks: list[list[str]]
    fixed: tuple[str, ...] = (VISIT_DATE, VISIT_RESULT, VISITOR, PARENT)

    @classmethod
    def of(cls, unit: Unit, by: str, term: str, made: str, teams: dict[str, str]) -> _Texts:
        return cls(title=f"{unit.name} 走访台账（{term}）",
                   note=f"共 {len(unit.children)} 名儿童。请逐一入户核实，填写走访日期、走访结果，由走访人和家长签字。",
                   footer=f"{unit.name}  {term}    第 {{page}} 页 共 {{{{nb}}}} 页    制表时间：{made}",
                   blocks=[_block(child, i, by, teams) for i, child in enumerate(unit.children, start=1)])

    def characters(self) -> set[str]:
        chars = set(self.title) | set(self.note) | set(self.footer) | set(DIGITS)
        for text in (*self.fixed, *(line for block in self.blocks for line in block)):
            chars |= set(text)
        return chars


def _subset_font(pages: list[_Texts], folder: Path) -> Path:
    """The CJK font cut down to the characters these PDFs print (each PDF embeds a subset either way;
    cutting it once per county keeps each PDF from parsing the whole font collection)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    chars: set[str] = set()
    for texts in pages:
        chars |= texts.characters()
    path, number = cjk_font_file()
    font = TTFont(path, fontNumber=number, lazy=False)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.layout_features = []
    sub = subset.Subsetter(options)
    sub.populate(unicodes={ord(c) for c in chars if not c.isspace()})
    sub.subset(font)
    target = folder / "cjk.otf"
    font.save(str(target))
    return target


def _write_pdf(path: Path, texts: _Texts, font: Path) -> None:
    from fpdf import FPDF

    class Book(FPDF):  # type: ignore[misc]
        def header(self) -> None:
            self.set_font("cjk", size=13)
            self.cell(0, 8, texts.title, align="C", new_x="LMARGIN", new_y="NEXT")
            self.set_font("cjk", size=8)
            self.cell(0, 5, texts.note, new_x="LMARGIN", new_y="NEXT")
            self.ln(1)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("cjk", size=8)
            self.cell(0, 6, texts.footer.format(page=self.page_no()), align="C")

    pdf = Book(orientation="P", format="A4")
    pdf.set_title(texts.title)
    pdf.set_creator("yidan")
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("cjk", "", str(font))
    pdf.add_page()
    width = pdf.epw
    pdf.set_draw_color(120, 120, 120)
    for block in texts.blocks:
        height = 6 + 5 * (len(block) - 1) + 16 + 4
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()  # a child's block is kept on one page where it fits one
        pdf.set_font("cjk", size=10.5)
        pdf.multi_cell(width, 6, block[0], new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        for line in block[1:]:
            pdf.multi_cell(width, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.cell(width * 0.3, 7, VISIT_DATE)
        pdf.cell(width * 0.7, 7, VISIT_RESULT, new_x="LMARGIN", new_y="NEXT")
        pdf.cell(width * 0.5, 7, VISITOR)
        pdf.cell(width * 0.5, 7, PARENT, new_x="LMARGIN", new_y="NEXT")
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.l_margin + width, pdf.get_y() + 1)
        pdf.ln(3)
    pdf.output(str(path))


def _block(child: Child, i: int, by: str, teams: dict[str, str]) -> list[str]:
    r = child.row
    age = f"，{r['age']} 岁" if r["age"] is not None else ""
    status = "，".join(x for x in (r["category"], r["poverty_status"]) if x)
    head = f"{i}. {r['name'] or ''}（{mask_id(r['person_id'])}{age}）" + (f"  {status}" if status else "")
    household = "户主：" + (r["head_name"] or "—") + (f"（{r['relation']}）" if r["relation"] else "")
    household += "    电话：" + (mask_phone(r["phone"]) or "—")
    place = "户籍地：" + (" ".join(x for x in (r["county_name"], r["township_name"], r["village_name"]) if x)
                       or r["village"] or r["county"])
    school = "学校：" + (" ".join(x for x in (r["school_name"], r["stage"], r["grade"],
                                            f"{r['class_id']}班" if r["class_id"] else None,
                                            r["enrollment_status"]) if x) or NO_SCHOOL)
    lines = [head, household, place if by == "school" else place + "    " + school]
    if by == "school":
        lines.append(school)
    for f in child.findings:
        lines.append(scrub_text(f"问题：{f['code']} {f['label']}。{f['detail'] or ''}"))  # IDs in the text masked
        if f["next_step"]:
            lines.append(f"下一步：{f['next_step']}")
        team = teams.get(f["finding_key"])
        if team:
            lines.append(f"三帮一小组：{team}")
    return lines
