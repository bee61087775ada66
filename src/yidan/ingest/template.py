"""Empty XLSX templates, one per input table, that make the common mistakes hard to make.

Row 1 is a title with instructions, row 2 explains each column (allowed values, an example),
row 3 is the header; data starts on row 4. The readers find the header below such rows by
themselves, so a filled-in template is imported as it is. ID and code columns are formatted as
text (Excel cannot turn an ID into 4.30124E+17 any more), coded columns get a dropdown list.
"""

from __future__ import annotations

from pathlib import Path

from yidan.contract import TABLES, Column, Kind, Table
from yidan.outfiles import atomic_output, output_dir

TITLE_ROW, NOTE_ROW, HEADER_ROW = 0, 1, 2  # 0-based, as XlsxWriter counts
LAST_ROW = 1_048_575
DATE_FORMAT = "yyyy-mm-dd"
_LIST_LIMIT = 250  # Excel refuses inline lists longer than 255 characters


def template_name(table: Table) -> str:
    return f"{table.name}-{table.label}.xlsx"


def column_note(col: Column) -> str:
    """The text of the note row: required or not, what the column holds, allowed values, an example."""
    parts = ["必填" if col.required else "选填"]
    if col.description:
        parts.append(col.description)
    if col.allowed and "/" not in col.description and "、" not in col.description:
        parts.append("可选：" + "/".join(col.allowed))
    if col.kind is Kind.ENUM_LIST:
        parts.append("多个值以、分隔")
    if col.kind is Kind.DATE:
        parts.append("日期如 2020-09-01" + ("，不能晚于导入当天" if col.past else ""))
    if col.example:
        parts.append(f"例：{col.example}")
    return "；".join(parts)


def write_template(table: Table, out_dir: Path) -> Path:
    """The table's template in `out_dir`, written under a temporary name and renamed when complete."""
    path = out_dir / template_name(table)
    with atomic_output(path) as tmp:
        _write_template(table, tmp)
    return path


def _write_template(table: Table, path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(table.label)
    codes = None
    title = book.add_format({"bold": True, "font_size": 13})
    note = book.add_format({"font_color": "#595959", "text_wrap": True, "valign": "top", "font_size": 9})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    head_req = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "font_color": "#C00000"})
    text = book.add_format({"num_format": "@"})
    date = book.add_format({"num_format": DATE_FORMAT})
    amount = book.add_format({"num_format": "0.00"})
    sheet.write(TITLE_ROW, 0, f"{table.label}（{table.name}）导入模板：第3行是表头（红色为必填），从第4行起每行一条记录；"
                              "第2行是各列说明，可以保留。身份证号等列已设为文本格式，请勿改为数字。", title)
    sheet.set_row(NOTE_ROW, 60)
    for i, col in enumerate(table.columns):
        fmt = text if col.is_text_in_excel else date if col.kind is Kind.DATE else \
            amount if col.kind is Kind.AMOUNT else None
        width = 22 if col.kind in (Kind.ID_NUMBER, Kind.STUDENT_NO) else max(12, len(col.header) * 2 + 4)
        sheet.set_column(i, i, width, fmt)
        sheet.write_string(NOTE_ROW, i, column_note(col), note)
        sheet.write_string(HEADER_ROW, i, col.header, head_req if col.required else head)
        if col.kind is Kind.ENUM:
            inline = ",".join(col.allowed)
            if len(inline) <= _LIST_LIMIT:
                source: list[str] | str = list(col.allowed)
            else:  # long lists live on a hidden sheet
                if codes is None:
                    codes = book.add_worksheet("代码表")
                    codes.hide()
                codes.write_column(0, i, col.allowed)
                letter = xlsxwriter.utility.xl_col_to_name(i)
                source = f"='代码表'!${letter}$1:${letter}${len(col.allowed)}"
            sheet.data_validation(HEADER_ROW + 1, i, LAST_ROW, i, {
                "validate": "list", "source": source,
                "input_title": col.header[:32], "input_message": column_note(col)[:255],
                "error_title": "取值不在列表中", "error_message": ("请从下拉列表中选择：" + "/".join(col.allowed))[:255],
            })
        else:
            sheet.data_validation(HEADER_ROW + 1, i, LAST_ROW, i, {
                "validate": "any", "input_title": col.header[:32], "input_message": column_note(col)[:255],
            })
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    book.close()


def write_templates(out_dir: Path, tables: list[str] | None = None) -> list[Path]:
    """One template per input table of the contract (all of them unless `tables` is given)."""
    output_dir(out_dir)
    return [write_template(TABLES[name], out_dir) for name in (tables or list(TABLES))]
