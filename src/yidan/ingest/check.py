"""`check_files`: validate files against the contract without a run, the service behind `yidan check`.

It loads the files into a private in-memory DuckDB exactly as a run would (same readers, same
rules), so what `check` says is what a run will do; then it summarises and can write the refused
rows, with their row numbers and reasons, to a CSV (UTF-8 with BOM, which Excel opens correctly,
formula-leading cells neutralised) and an XLSX with the value column as text, both atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from yidan.ingest.load import FileStats, RowCounts, load_table
from yidan.ingest.staging import REJECTS
from yidan.outfiles import atomic_output, output_error, write_csv

REJECT_HEADERS = ("表", "文件", "行号", "列", "值", "原因")
XLSX_MAX_ROWS = 1_048_575  # Excel's limit, the header row excluded


@dataclass
class CheckReport(RowCounts):
    table: str
    files: list[FileStats]
    top_reasons: list[tuple[str, str, int]]  # (column, reason, rows) most frequent first
    rejects: list[tuple]  # rows of REJECT_HEADERS, ordered by file and row number
    notes: list[str] = field(default_factory=list)


def check_files(table: str, paths: Sequence[Path | str], encoding: str | None = None,
                *, top: int = 10) -> CheckReport:
    con = duckdb.connect()
    try:
        result = load_table(con, table, [Path(p) for p in paths], encoding=encoding, name="_checked")
        reasons = con.execute(
            f'SELECT "column", reason, count(*) AS n FROM {REJECTS} GROUP BY ALL ORDER BY n DESC, reason LIMIT ?',
            [top],
        ).fetchall()
        rows = con.execute(
            f'SELECT "table", file, row_number, "column", value, reason FROM {REJECTS} '
            "ORDER BY file, row_number, \"column\""
        ).fetchall()
    finally:
        con.close()
    return CheckReport(result.table, result.files, [tuple(r) for r in reasons], rows, result.notes)


def reject_paths(base: Path) -> tuple[Path, Path]:
    """The CSV and XLSX written for `base` (its suffix, if any, replaced)."""
    stem = base.with_suffix("") if base.suffix.lower() in (".csv", ".xlsx") else base
    return stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".xlsx")


def write_rejects(report: CheckReport, base: Path) -> tuple[Path, Path]:
    """Write the refused rows beside `base` as CSV and XLSX; return both paths."""
    import xlsxwriter

    csv_path, xlsx_path = reject_paths(base)
    try:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(csv_path.parent, exc) from exc
    # atomically, and a value such as =HYPERLINK(...) or +86... stays text in Excel and WPS
    write_csv(csv_path, REJECT_HEADERS, report.rejects)
    with atomic_output(xlsx_path) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False})
        sheet = book.add_worksheet("拒绝的行")
        text = book.add_format({"num_format": "@"})
        bold = book.add_format({"bold": True, "bg_color": "#F2F2F2"})
        sheet.write_row(0, 0, REJECT_HEADERS, bold)
        for i, width in enumerate((14, 40, 8, 14, 26, 60)):
            sheet.set_column(i, i, width, text if i == 4 else None)
        for r, row in enumerate(report.rejects[:XLSX_MAX_ROWS], start=1):
            sheet.write_row(r, 0, [row[0], row[1], row[2], row[3]])
            sheet.write_string(r, 4, "" if row[4] is None else str(row[4]), text)
            sheet.write_string(r, 5, str(row[5]))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, min(len(report.rejects), XLSX_MAX_ROWS), len(REJECT_HEADERS) - 1)
        book.close()
    return csv_path, xlsx_path
