"""CSV through DuckDB's parallel reader: every column VARCHAR, every row numbered as the user sees it.

DuckDB's CSV scan keeps no line numbers, so the reader rebuilds them: the table is filled in
file order (preserve_insertion_order), its rowid is the ordinal of a parsed row, and the line
number is that ordinal shifted by the lines that produced no parsed row before it — rows the
parser refused (reported with their line in `store_rejects`) and blank lines (found by the
byte scan). The total is checked against the scanned line count, so a file DuckDB half-read
(an undetected encoding, a line break inside quotes) stops with an error instead of loading
silently short.

The delimiter is the one under which the header row names the most contract columns (a title row
above it may hold any punctuation). A GB18030 file, or one with CR-only line ends, is first
rewritten as UTF-8 with line feeds (`scan.transcode_to_utf8`); lines of a GB18030 file that are
UTF-8 come back from that pass and are rejected whole with their line numbers.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from yidan.contract import Table
from yidan.errors import InputError
from yidan.ingest.headers import HEADER_SCAN_ROWS, count_known, find_header_row, match_headers
from yidan.ingest.rules import q
from yidan.ingest.scan import Scan, resolve_encoding, scan_file, transcode_to_utf8
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


UTF8_LINE_REASON = ("这一行是 UTF-8 编码，而文件的其余部分是 GBK/GB18030：同一文件混用了两种编码，"
                    "这一行按 GBK 读会变成乱码，已拒收；请把整个文件另存为同一种编码（推荐“CSV UTF-8”）后重新导入")


def _first_rows(head: bytes, encoding: str) -> list[str]:
    """The first physical lines of the sample (split on newline only, as DuckDB's `skip` counts)."""
    text = head.decode(encoding, errors="replace")
    return [ln.rstrip("\r") for ln in text.split("\n")[:HEADER_SCAN_ROWS]]


def _split(line: str, delim: str) -> list[str]:
    """One line as cells; a line Python's parser refuses (a field over its 128 KiB limit) is not a header."""
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delim), [])
    except csv.Error:
        return []


def _sniff(table: Table, lines: list[str]) -> tuple[str, list[list[str]], int | None]:
    """The delimiter under which the header row names the most contract columns, its rows and header index.

    Decided on the header, not on the first line: a title row above it may hold any punctuation
    (「2021年；建档立卡」). Without any recognisable header, the commonest character of the first line.
    """
    best: tuple[int, str, list[list[str]], int | None] | None = None
    for delim in DELIMITERS:
        rows = [_split(ln, delim) for ln in lines]
        at = find_header_row(table, rows)
        n = count_known(table, rows[at]) if at is not None else 0
        if at is not None and (best is None or n > best[0]):
            best = (n, delim, rows, at)
    if best is not None:
        return best[1], best[2], best[3]
    first = next((ln for ln in lines if ln.strip()), "")
    delim = max(DELIMITERS, key=first.count)
    return delim, [_split(ln, delim) for ln in lines], None


def read_csv(con, table: Table, path: Path, scan: Scan, *, encoding: str | None, label: str,
             sink: str) -> Staged:
    """Stage one CSV file; rows the parser refuses go to the rejects table `sink`."""
    if scan.size == 0 or scan.head.strip(b"\xef\xbb\xbf \t\r\n") == b"":
        raise InputError(f"文件 {path} 是空的，没有表头也没有数据。", hint="请检查是否选错了文件，或重新导出。")
    enc = resolve_encoding(encoding, scan.head, path)
    # old Mac line ends (CR only): read as line feeds, so every line keeps its number
    cr_only = b"\n" not in scan.head and b"\r" in scan.head
    lines = _first_rows(scan.head.replace(b"\r", b"\n") if cr_only else scan.head, enc)
    delim, rows, header_at = _sniff(table, lines)
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
    flagged: dict[int, str] = {}
    if enc == "gb18030" or cr_only:
        tmp = tempfile.NamedTemporaryFile(prefix="yidan-", suffix=".csv", delete=False)
        tmp.close()
        source = Path(tmp.name)
        try:
            flagged = transcode_to_utf8(path, enc, source, cr_only=cr_only)
            if cr_only:
                scan = scan_file(source)  # its lines and blank lines, now that they end in line feeds
        except BaseException:
            source.unlink(missing_ok=True)
            raise
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
        staged = _number_rows(con, table, path, scan, raw, rej, header_at, match, label, enc, sink, flagged)
    except BaseException:
        con.execute(f"DROP TABLE IF EXISTS {raw}")
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rej}")
        con.execute(f"DROP TABLE IF EXISTS {scans}")
    return staged


def _number_rows(con, table, path, scan, raw, rej, header_at, match, label, enc, sink, flagged) -> Staged:
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
    select = (f"SELECT {q(label)} AS _file, "
              f"CAST(r.rowid + {first_data} + {shift} AS BIGINT) AS _row, {cols} FROM {raw} r{join}")
    mixed = temp_name("mixed")
    flagged = {line: text for line, text in flagged.items() if line >= first_data}
    if flagged:  # lines in another encoding than the file: rejected whole, never loaded
        con.execute(f"CREATE TEMP TABLE {mixed} (line BIGINT, value VARCHAR)")
        con.executemany(f"INSERT INTO {mixed} VALUES (?, ?)", [[k, v[:500]] for k, v in flagged.items()])
        con.execute(f"DELETE FROM {mixed} WHERE line IN (SELECT line FROM {holes})")
        con.execute(
            f"INSERT INTO {sink} SELECT {q(table.name)}, {q(label)}, line, {q(WHOLE_ROW)}, value, "
            f"{q(UTF8_LINE_REASON)} FROM {mixed}")
        select = f"SELECT * FROM ({select}) WHERE _row NOT IN (SELECT line FROM {mixed})"
    con.execute(f"CREATE TEMP VIEW {name} AS {select}")
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
    staged.controls = scan.controls
    staged.drops = [f"DROP VIEW IF EXISTS {name}", f"DROP TABLE IF EXISTS {segs}", f"DROP TABLE IF EXISTS {raw}",
                    f"DROP TABLE IF EXISTS {mixed}"]
    return staged
