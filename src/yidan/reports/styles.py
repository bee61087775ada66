"""Cell formats and the column layout of a finding sheet, in one place.

The importer reads returned workbooks by these same headers, so the layout is
declared once and shared by the writer (workbook.py) and the reader (verify_import.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yidan.contract import aid_needs
from yidan.contract.codes import FAMILY_LABELS
from yidan.contract.outputs import evidence_text

META_SHEET = "_yidan"  # very hidden: run id, region, level, layout version
LAYOUT_VERSION = "2"  # 2: household, place names, school record and next step
FAMILIES: tuple[str, ...] = ("schooling", "aid", "quality")  # sheet order after the cover
MAX_CELL = 32_000  # Excel keeps at most 32,767 characters in a cell


@dataclass(frozen=True)
class SheetColumn:
    field: str  # findings.parquet column, or a verification alias for clerk columns
    header: str  # Chinese header users see
    kind: str = "text"  # text | long (wrapped, never spills over the clerk's cells) | amount | date
    clerk: bool = False  # unlocked: the county fills it
    hidden: bool = False
    max_width: int = 40
    compared: bool = True  # the importer checks it still says what the run says
    optional: bool = False  # added after workbooks were handed out: a returned one may lack it
    web: bool = False  # held by the web database, not the run: filled only in a workbook the web app writes
    family: str | None = None  # only on that family's sheet (declared last, so the columns before keep their places)


FINDING_COLUMNS: tuple[SheetColumn, ...] = (
    SheetColumn("finding_key", "问题标识", hidden=True),
    SheetColumn("code", "问题编码", max_width=10),
    SheetColumn("label", "问题类型", max_width=20),
    SheetColumn("person_id", "身份证号", max_width=22),
    SheetColumn("name", "姓名", max_width=14),
    SheetColumn("age", "年龄", max_width=6),
    SheetColumn("poverty_status", "脱贫状态", max_width=10),
    SheetColumn("head_name", "户主姓名", max_width=14),
    SheetColumn("relation", "与户主关系", max_width=10),
    # masked in the county workbook as on the web lists: the full number is on the case page,
    # for the roles that may see it, and each view is audited (see reports/workbook.py)
    SheetColumn("phone", "联系电话", max_width=14, compared=False),
    SheetColumn("county_name", "县", max_width=12),
    SheetColumn("township_name", "乡镇", max_width=14),
    SheetColumn("village_name", "村", max_width=16),
    SheetColumn("term", "学期", max_width=10),
    SheetColumn("programme_code", "资助项目", max_width=14),
    SheetColumn("school_name", "学校", max_width=24),
    SheetColumn("stage", "学段", max_width=8),
    SheetColumn("grade", "年级", max_width=10),
    SheetColumn("class_id", "班级", max_width=12),
    SheetColumn("enrollment_status", "学籍状态", max_width=10),
    SheetColumn("amount_expected", "应发金额", kind="amount", max_width=12),
    SheetColumn("amount_paid", "实发金额", kind="amount", max_width=12),
    # long texts wrap in narrow columns, so that a printed page fitted to one page wide stays legible
    SheetColumn("detail", "问题说明", kind="long", max_width=32),
    SheetColumn("next_step", "下一步", kind="long", max_width=26),
    SheetColumn("evidence", "佐证", kind="long", max_width=32, compared=False),  # shown reformatted
    # issue 16: 核实/办结 due date of the case, from the application's deadlines (blank outside it)
    SheetColumn("due_date", "办理期限", max_width=22, compared=False, optional=True),
    # the team assigned on the web: a workbook written from a run directory (`yidan report`) leaves it empty
    SheetColumn("team", "三帮一小组", kind="long", max_width=24, compared=False, web=True),
    SheetColumn("conclusion", "核实结论", clerk=True, max_width=14),
    SheetColumn("province", "就读省份", clerk=True, max_width=12),
    SheetColumn("verified_on", "核实日期", kind="date", clerk=True, max_width=14),
    SheetColumn("verified_by", "核实人", clerk=True, max_width=12),
    SheetColumn("note", "说明", clerk=True, max_width=30),
    # issue 15: what an aid conclusion needs (contract/aid_needs.py), on the aid sheet only; the field names
    # are aid_needs' keys. Absent from workbooks handed out before: optional.
    SheetColumn(aid_needs.AMOUNT, "补发或追回金额", kind="amount", clerk=True, max_width=14, optional=True, family="aid"),
    SheetColumn(aid_needs.ON_DATE, "补发或追回日期", kind="date", clerk=True, max_width=14, optional=True, family="aid"),
    SheetColumn(aid_needs.VOUCHER, "凭证号", clerk=True, max_width=16, optional=True, family="aid"),
    SheetColumn(aid_needs.GROUND, "政策依据", clerk=True, max_width=26, optional=True, family="aid"),
    SheetColumn(aid_needs.WRONG_FIELD, "错误的字段", clerk=True, max_width=16, optional=True, family="aid"),
)
PROTECTED_COLUMNS = tuple(c for c in FINDING_COLUMNS if not c.clerk and not c.hidden and c.compared)
CLERK_COLUMNS = tuple(c for c in FINDING_COLUMNS if c.clerk)
AID_NEED_COLUMNS = tuple(c for c in FINDING_COLUMNS if c.family == "aid")
FINDING_FIELDS = tuple(c.field for c in FINDING_COLUMNS if not c.clerk and not c.web)
TEAM_NOTE = ("网页下载的工作簿列出在网页上指派的三帮一劝返小组；由比对结果目录生成的工作簿（yidan report）"
             "没有小组信息，此列为空。")


def sheet_columns(family: str) -> tuple[SheetColumn, ...]:
    """The columns of one family's finding sheet, in order (the family's own columns last)."""
    return tuple(c for c in FINDING_COLUMNS if c.family in (None, family))


def family_sheet_name(family: str) -> str:
    return FAMILY_LABELS[family]


def text_width(text: str) -> int:
    """Display width in Excel columns: CJK and full-width characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def readable_evidence(raw: str) -> str:
    """The pipeline's evidence (JSON) as lines a clerk reads, through the one evidence renderer."""
    return evidence_text(raw) or raw


def wrapped_lines(text: str, width: int) -> int:
    """Lines a wrapped cell of `width` needs (Excel does not grow rows written this way)."""
    return sum(max(1, -(-text_width(part) // max(width - 1, 1))) for part in text.split("\n"))


def formats(wb: Any) -> dict[str, Any]:
    """The workbook's formats (XlsxWriter Format objects), created once per workbook."""
    base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
    return {
        "title": wb.add_format({**base, "bold": True, "font_size": 16}),
        "subtitle": wb.add_format({**base, "bold": True, "font_size": 12, "bottom": 1}),
        "label": wb.add_format({**base, "bold": True}),
        "header": wb.add_format(
            {**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "locked": True}
        ),
        "clerk_header": wb.add_format(
            {**base, "bold": True, "bg_color": "#FFF2CC", "border": 1, "text_wrap": True, "locked": True}
        ),
        "text": wb.add_format({**base, "num_format": "@", "locked": True}),
        "long": wb.add_format({**base, "num_format": "@", "locked": True, "text_wrap": True}),
        "amount": wb.add_format({**base, "num_format": "#,##0.00", "locked": True}),
        "int": wb.add_format({**base, "num_format": "#,##0", "locked": True}),
        "pct": wb.add_format({**base, "num_format": "0.0%", "locked": True}),
        "clerk": wb.add_format({**base, "num_format": "@", "locked": False, "bg_color": "#FFFBEA"}),
        "clerk_amount": wb.add_format(
            {**base, "num_format": "#,##0.00", "locked": False, "bg_color": "#FFFBEA"}
        ),
        "clerk_date": wb.add_format(
            {**base, "num_format": "yyyy-mm-dd", "locked": False, "bg_color": "#FFFBEA"}
        ),
        "note": wb.add_format({**base, "italic": True, "font_color": "#595959", "text_wrap": True}),
    }


MAX_PAGE_BREAKS = 1023  # Excel keeps at most 1,023 manual page breaks per sheet


def footer_text(text: str) -> str:
    """A value written into a header/footer string: `&` starts a control code there, so it is doubled."""
    return text.replace("&", "&&")


def print_setup(ws: Any, *, region: str, term: str, made: str, header_rows: int = 1) -> None:
    """A list sheet on paper: A4 landscape, one page wide, the header rows on every page, and a footer
    with the region, the term, 第 N 页 共 M 页 and the time the list was made."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed
    ws.repeat_rows(0, header_rows - 1)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer(
        f"&L{footer_text(region)} {footer_text(term)}&C第 &P 页 共 &N 页&R制表时间：{footer_text(made)}",
        {"margin": 0.3},
    )
