"""XLSX through python-calamine (DuckDB cannot read XLSX offline), handed to DuckDB as Arrow.

Spreadsheets from the source systems carry title and note rows above the header: the header is
the first row within the top rows that names the most contract columns. Every sheet whose
header is found is read (one sheet per county is common); other sheets (instructions, pivot
tables) are skipped with a note; a hidden sheet with a header is refused, and a formula cell
without a saved value refuses its row (see `xlsx_parts`). Rows are numbered as Excel shows them. A sheet holds at most
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
from yidan.ingest.xlsx_parts import uncached_formulas


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


FORMULA_REASON = "公式未计算，请在 Excel 中打开并保存后再导出"


def _hidden_refused(path: Path, table: Table, hidden: list[tuple[str, int]]) -> InputError:
    names = "、".join(f"「{name}」（{n} 行）" for name, n in hidden)
    return InputError(
        f"文件 {path} 中的隐藏工作表 {names} 含{table.label}表的数据；隐藏的工作表常是旧数据或草稿，不会自动导入。",
        hint="如这些行应当导入：在 Excel 中右键任一工作表标签 →“取消隐藏”，选中该表后保存再导入；"
             "如不需要：删除该工作表后保存再导入。",
    )


def calamine_failure(exc: BaseException) -> BaseException:
    """`exc` when it is calamine's verdict on a broken file (its errors, or a Rust panic); otherwise re-raised."""
    if isinstance(exc, Exception) or type(exc).__name__ == "PanicException":
        return exc
    raise exc  # KeyboardInterrupt, SystemExit


def _broken(path: Path, where: str, exc: BaseException) -> InputError:
    return InputError(f"无法打开 Excel 文件 {path}{where}：文件已损坏或不完整（{type(exc).__name__}）。",
                      hint="请用 Excel 或 WPS 打开该文件，确认内容完整后另存为 .xlsx 再导入；如打不开，请从源系统重新导出。")


def read_xlsx(con, table: Table, path: Path, *, label: str, sink: str | None = None) -> list[Staged]:
    """Stage every sheet of `path` whose header is found; formula cells with no saved value go to `sink`.

    A hidden sheet with a header is refused (`InputError`): its rows would load without the user
    ever seeing them. Hidden sheets without one (lists behind drop-downs) are skipped quietly.
    """
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    try:
        book = CalamineWorkbook.from_path(str(path))
        visible = {m.name: m.visible == SheetVisibleEnum.Visible for m in book.sheets_metadata}
    except BaseException as exc:  # calamine raises its own error types for broken files
        raise _broken(path, "", calamine_failure(exc)) from None
    uncached = uncached_formulas(path)
    sheets = []
    skipped = []
    hidden: list[tuple[str, int]] = []
    first: list = []
    for sheet_name in book.sheet_names:
        try:
            rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        except BaseException as exc:  # a cut-off or malformed sheet XML
            raise _broken(path, f" 的工作表「{sheet_name}」", calamine_failure(exc)) from None
        if not first and visible.get(sheet_name, True):
            first = rows
        at = find_header_row(table, rows)
        if at is None:
            if visible.get(sheet_name, True):
                skipped.append(sheet_name)
            continue
        if not visible.get(sheet_name, True):
            n = sum(1 for r in rows[at + 1:] if any(v is not None and v != "" for v in r))
            if n:  # (a hidden sheet with only a header holds nothing to lose)
                hidden.append((sheet_name, n))
            continue
        sheets.append((sheet_name, rows, at))
    if hidden:
        raise _hidden_refused(path, table, hidden)
    if not sheets:
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
        formulas = uncached.get(sheet_name, {})
        headers = {pos: table.column(alias).header for alias, pos in match.positions.items()}
        row_numbers: list[int] = []
        refused: list[list] = []
        read = 0
        columns: dict[str, list[str | None]] = {alias: [] for alias in match.positions}
        for i in range(at + 1, len(rows)):
            row = rows[i]
            cells = formulas.get(i + 1)
            bad = [(headers[c], f) for c, f in sorted(cells.items()) if c in headers] if cells else []
            if not bad and all(v is None or v == "" for v in row):
                continue  # an empty spreadsheet row is not a record
            read += 1
            if bad:  # never loaded: the value the formula would give is unknown
                refused += [[table.name, sheet_label, i + 1, h, f[:500], FORMULA_REASON] for h, f in bad]
                continue
            row_numbers.append(i + 1)
            for alias, pos in match.positions.items():
                columns[alias].append(cell_text(row[pos]) if pos < len(row) else None)
        if refused:
            if sink is None:
                raise InputError(f"{where} 第 {refused[0][2]} 行：{FORMULA_REASON}。", hint="保存后重新导入。")
            con.executemany(f"INSERT INTO {sink} VALUES (?, ?, ?, ?, ?, ?)", refused)
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
        out.append(Staged(name, sheet_label, read, list(match.positions), match.extras, notes))
    return out
