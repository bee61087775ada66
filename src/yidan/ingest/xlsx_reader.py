"""XLSX through python-calamine (DuckDB cannot read XLSX offline), handed to DuckDB as Arrow.

Spreadsheets from the source systems carry title and note rows above the header: the header is
the first row within the top rows that names the most contract columns. Every sheet whose
header is found is read (one sheet per county is common); other sheets (instructions, pivot
tables) are skipped with a note. Rows are numbered as Excel shows them. A sheet holds at most
about a million rows, so one Python value per cell is acceptable here — big data comes as CSV
or Parquet.

Cell values become text the way a user reads them: whole numbers without ".0", other numbers
with 15 significant digits (so an ID Excel stored as a number reads 4.3012420090315e+17 and is
rejected as mangled), dates as ISO dates.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from yidan.contract import Table
from yidan.errors import InputError
from yidan.ingest.headers import HEADER_SCAN_ROWS, count_known, find_header_row, match_headers
from yidan.ingest.staging import Staged, temp_name


def cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if (value.hour, value.minute, value.second) != (0, 0, 0) \
            else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_xlsx(con, table: Table, path: Path, *, label: str) -> list[Staged]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for broken files
        raise InputError(f"无法打开 Excel 文件 {path}：{exc}",
                         hint="请确认文件是 .xlsx 格式且没有损坏（可用 Excel 打开后另存一次）。") from None
    sheets = []
    skipped = []
    for sheet_name in book.sheet_names:
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        at = find_header_row(table, rows)
        if at is None:
            skipped.append(sheet_name)
            continue
        sheets.append((sheet_name, rows, at))
    if not sheets:
        first = book.get_sheet_by_name(book.sheet_names[0]).to_python(skip_empty_area=False) \
            if book.sheet_names else []
        best = max(range(min(len(first), HEADER_SCAN_ROWS)), key=lambda i: count_known(table, first[i]),
                   default=None)
        header = first[best] if best is not None else []
        # no sheet has a recognisable header: name what is missing, from the likeliest row
        match_headers(table, header, where=f"文件 {path}")
        raise InputError(f"文件 {path} 中没有找到{table.label}表的表头行。",
                         hint="表头应包含模板中的列名（如「身份证号」「姓名」）；可用 yidan template 生成模板。")
    out = []
    for sheet_name, rows, at in sheets:
        where = f"文件 {path} 的工作表「{sheet_name}」"
        match = match_headers(table, rows[at], where=where)
        sheet_label = label if len(sheets) == 1 else f"{label}#{sheet_name}"
        row_numbers: list[int] = []
        columns: dict[str, list[str | None]] = {alias: [] for alias in match.positions}
        for i in range(at + 1, len(rows)):
            row = rows[i]
            if all(v is None or v == "" for v in row):
                continue  # an empty spreadsheet row is not a record
            row_numbers.append(i + 1)
            for alias, pos in match.positions.items():
                columns[alias].append(cell_text(row[pos]) if pos < len(row) else None)
        arrow = pa.table({"_file": pa.array([sheet_label] * len(row_numbers), pa.string()),
                          "_row": pa.array(row_numbers, pa.int64()),
                          **{a: pa.array(v, pa.string()) for a, v in columns.items()}})
        name = temp_name("stage")
        view = temp_name("arrow")
        con.register(view, arrow)
        try:
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {view}")
        finally:
            con.unregister(view)
        notes = list(match.notes)
        if skipped:
            notes.append(f"{path}：工作表「{'、'.join(skipped)}」没有找到表头，已跳过。")
            skipped = []
        out.append(Staged(name, sheet_label, len(row_numbers), list(match.positions), match.extras, notes))
    return out
