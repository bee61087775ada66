"""CSV through DuckDB's parallel reader: every column VARCHAR, every row numbered as the user sees it.

DuckDB's CSV scan keeps no line numbers, so the reader rebuilds them: the table is filled in
file order (preserve_insertion_order), its rowid is the ordinal of a parsed row, and the line
number is that ordinal shifted by the lines that produced no parsed row before it — rows the
parser refused (reported with their line in `store_rejects`) and blank lines (found by the
byte scan). The total is checked against the scanned line count, so a file DuckDB half-read
(an undetected encoding, a line break inside quotes) stops with an error instead of loading
silently short.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from yidan.contract import Table
from yidan.errors import InputError
from yidan.ingest.headers import HEADER_SCAN_ROWS, find_header_row, match_headers
from yidan.ingest.rules import q
from yidan.ingest.scan import Scan, resolve_encoding, transcode_to_utf8
from yidan.ingest.staging import WHOLE_ROW, Staged, temp_name

DELIMITERS = (",", "\t", ";", "|")
PARSE_REASONS = {
    "MISSING COLUMNS": "字段数比表头少：这一行可能被截断，或缺少分隔符",
    "TOO MANY COLUMNS": "字段数比表头多：可能有未加引号的逗号",
    "INVALID ENCODING": "含无法识别的字符（文件编码不对？可用 --encoding 指定）",
    "UNQUOTED VALUE": "引号不配对",
    "INVALID STATE": "引号不配对或行格式错误",
    "LINE SIZE OVER MAXIMUM": "这一行太长，无法读取",
    "CAST": "无法读取",
}


def _first_rows(head: bytes, encoding: str) -> list[str]:
    """The first physical lines of the sample (split on newline only, as DuckDB's `skip` counts)."""
    text = head.decode(encoding, errors="replace")
    return [ln.rstrip("\r") for ln in text.split("\n")[:HEADER_SCAN_ROWS]]


def _delimiter(line: str) -> str:
    return max(DELIMITERS, key=line.count)


def read_csv(con, table: Table, path: Path, scan: Scan, *, encoding: str | None, label: str,
             sink: str) -> Staged:
    """Stage one CSV file; rows the parser refuses go to the rejects table `sink`."""
    if scan.size == 0 or scan.head.strip(b"\xef\xbb\xbf \t\r\n") == b"":
        raise InputError(f"文件 {path} 是空的，没有表头也没有数据。", hint="请检查是否选错了文件，或重新导出。")
    enc = resolve_encoding(encoding, scan.head, path)
    lines = _first_rows(scan.head, enc)
    delim = _delimiter(next((ln for ln in lines if ln.strip()), ""))
    rows = [next(csv.reader(io.StringIO(ln), delimiter=delim), []) for ln in lines]
    header_at = find_header_row(table, rows)
    if header_at is None:
        header_at = 0  # let the header match name the missing columns
    header = rows[header_at] if rows else []
    if any("\ufffd" in cell for cell in header):
        raise InputError(
            f"文件 {path} 的表头含无法识别的字符：文件编码可能不是 {enc}。",
            hint="不指定 --encoding 让程序自动识别，或指定正确的编码（utf-8、gb18030）。",
        )
    match = match_headers(table, header, where=f"文件 {path}")
    width = len(header)

    source, tmp = path, None
    if enc == "gb18030":
        tmp = tempfile.NamedTemporaryFile(prefix="yidan-", suffix=".csv", delete=False)
        tmp.close()
        source = Path(tmp.name)
        transcode_to_utf8(path, enc, source)
    raw, rej, scans = temp_name("csv"), temp_name("csvrej"), temp_name("csvscan")
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    old_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            f"CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv({q(str(source))}, header = true, "
            f"skip = {header_at}, delim = {q(delim)}, quote = '\"', escape = '\"', columns = {columns}, "
            f"auto_detect = false, strict_mode = true, store_rejects = true, rejects_table = '{rej}', "
            f"rejects_scan = '{scans}', max_line_size = 10000000)"
        )
    except Exception as exc:  # duckdb.Error: the file cannot be parsed at all
        raise InputError(
            f"无法读取 CSV 文件 {path}：{exc}",
            hint="请用 Excel 或 WPS 打开后另存为“CSV UTF-8”或 XLSX 再试。",
        ) from None
    finally:
        con.execute(f"SET preserve_insertion_order = {str(old_order).lower()}")
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)
    try:
        staged = _number_rows(con, table, path, scan, raw, rej, header_at, match, label, enc, sink)
    except BaseException:
        con.execute(f"DROP TABLE IF EXISTS {raw}")
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rej}")
        con.execute(f"DROP TABLE IF EXISTS {scans}")
    return staged


def _number_rows(con, table, path, scan, raw, rej, header_at, match, label, enc, sink) -> Staged:
    first_data = header_at + 2  # 1-based line of the first data row
    holes = temp_name("holes")
    con.execute(f"CREATE TEMP TABLE {holes} (line BIGINT, reason VARCHAR, value VARCHAR)")
    con.execute(
        f"INSERT INTO {holes} SELECT line, first(CAST(error_type AS VARCHAR)), first(csv_line) "
        f"FROM {rej} GROUP BY line"
    )
    blanks = [b for b in scan.blank_lines if b >= first_data]
    if blanks:
        con.executemany(f"INSERT INTO {holes} VALUES (?, NULL, NULL)", [[b] for b in blanks])
    parsed = con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0]
    refused = con.execute(f"SELECT count(*) FROM {holes} WHERE reason IS NOT NULL").fetchone()[0]
    expected = scan.lines - (first_data - 1) - len(blanks)
    if parsed + refused != expected:
        con.execute(f"DROP TABLE {holes}")
        raise InputError(
            f"CSV 文件 {path} 读出的行数（{parsed + refused}）与文件的行数（{expected}）对不上："
            "可能有单元格内换行、引号不配对，或编码识别错误（识别为 {enc}）。".replace("{enc}", enc),
            hint="请用 Excel 或 WPS 打开后另存为 XLSX 再导入，或用 --encoding 指定正确的编码。",
        )
    cols = ", ".join(f'r.c{pos} AS "{alias}"' for alias, pos in match.positions.items())
    name = temp_name("stage")
    segs = temp_name("segs")
    if con.execute(f"SELECT count(*) FROM {holes}").fetchone()[0] == 0:
        shift, join = "0", ""
    else:
        con.execute(
            f"CREATE TEMP TABLE {segs} AS SELECT max(line - {first_data} + 2 - j) AS start, max(j) AS j FROM "
            f"(SELECT line, row_number() OVER (ORDER BY line) AS j FROM {holes}) GROUP BY line - j"
        )
        shift, join = "coalesce(s.j, 0)", f" ASOF LEFT JOIN {segs} s ON r.rowid + 1 >= s.start"
    # a view, not a copy: the raw table is read once by the validation query, then dropped
    con.execute(
        f"CREATE TEMP VIEW {name} AS SELECT {q(label)} AS _file, "
        f"CAST(r.rowid + {first_data} + {shift} AS BIGINT) AS _row, {cols} FROM {raw} r{join}"
    )
    width_note = "（表头共 " + str(len(match.positions) + len(match.extras)) + " 列）"
    cases = " ".join(f"WHEN {q(k)} THEN {q(v + width_note if 'COLUMNS' in k else v)}"
                     for k, v in PARSE_REASONS.items())
    con.execute(
        f"INSERT INTO {sink} SELECT {q(table.name)}, {q(label)}, line, {q(WHOLE_ROW)}, "
        f"left(value, 500), CASE reason {cases} ELSE '无法读取' END FROM {holes} WHERE reason IS NOT NULL"
    )
    con.execute(f"DROP TABLE {holes}")
    staged = Staged(name, label, parsed + refused, list(match.positions), match.extras, match.notes)
    staged.encoding = enc
    staged.drops = [f"DROP VIEW IF EXISTS {name}", f"DROP TABLE IF EXISTS {segs}", f"DROP TABLE IF EXISTS {raw}"]
    return staged
