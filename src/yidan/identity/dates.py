"""Dates and terms in the forms real exports use, parsed in SQL for the big tables.

Accepted dates: 2020-09-01, 2020/9/1, 20200901, 2020年9月1日, 2020.09.01, the same followed by a
time (2020-09-01 00:00:00, as Parquet and spreadsheets give it), and Excel serial numbers (44075 =
2020-09-01, five digits, as a spreadsheet saved as CSV gives them). Anything else is NULL, and the
ingest rejects the row: a date is never guessed. Years outside 1900-2100 are refused too.

Excel serials are read only from 21916 to 73050 (1960-01-01 to 2099-12-31). Five digits below
that are far more often a mistyped date than a serial — `20201` is "2020" and a stray digit, not
day 20201 (1955-04-22) — and are refused. A date cell of an XLSX never needs the serial: the
reader gets the date itself from the cell's date format, whatever the year.

Terms: 2020秋 / 2021春 (also 2020年秋季学期) and 2020-2021学年第一学期 (= 2020秋) / 第二学期 (= 2021春),
with the semantics of `yidan.identity.terms.parse_term`, whose Python parser stays the reference
for single values.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from yidan.errors import InputError
from yidan.identity.terms import parse_term

EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (after its 1900 leap-year bug)
MIN_YEAR, MAX_YEAR = 1900, 2100
SERIAL_MIN, SERIAL_MAX = 21916, 73050  # the Excel serials read from text: 1960-01-01 .. 2099-12-31
SERIAL_PATTERN = "[0-9]{5}(\\.0+)?"  # as a RE2 pattern in a SQL literal

_FULL = "０１２３４５６７８９／．－"
_HALF = "0123456789/.-"


def clean_sql(raw: str) -> str:
    """SQL: trimmed text with full-width digits and separators made ASCII; '' -> NULL."""
    return f"nullif(trim(translate(CAST({raw} AS VARCHAR), '{_FULL}', '{_HALF}'), ' \t\u3000'), '')"


def _let(value: str, name: str, body: str) -> str:
    """SQL: `body` with the lambda parameter `name` bound to `value`, which is evaluated once.

    DuckDB evaluates a repeated subexpression as many times as it is written; a one-element
    `list_transform` computes it once per row. Used on the distinct values of a column only.
    """
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def date_sql(cleaned: str) -> str:
    """SQL: a DATE from cleaned text (see `clean_sql`), NULL when it is not a date we can read."""
    # 2020年9月1日 / 2020/9/1 / 2020.9.1 -> 2020-9-1; drop a trailing time of day
    dashed = (
        "regexp_replace(regexp_replace(_yc, '[年月/.]', '-', 'g'), "
        "'(日|-)?(\\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)?$', '')"
    )
    parsed = _let(dashed, "_yd", (
        "CASE "
        "WHEN regexp_full_match(_yd, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}') "
        "THEN CAST(try_strptime(_yd, '%Y-%m-%d') AS DATE) "
        "WHEN regexp_full_match(_yc, '[0-9]{8}') "
        "THEN CAST(try_strptime(_yc, '%Y%m%d') AS DATE) "
        f"WHEN regexp_full_match(_yc, '{SERIAL_PATTERN}') "
        f"AND TRY_CAST(_yc AS DOUBLE) BETWEEN {SERIAL_MIN} AND {SERIAL_MAX} "
        f"THEN DATE '{EXCEL_EPOCH.isoformat()}' + TRY_CAST(TRY_CAST(_yc AS DOUBLE) AS INTEGER) "
        "END"
    ))
    in_range = f"CASE WHEN year(_yp) BETWEEN {MIN_YEAR} AND {MAX_YEAR} THEN _yp END"
    return "(" + _let(cleaned, "_yc", _let(parsed, "_yp", in_range)) + ")"


def term_sql(cleaned: str) -> str:
    """SQL: the canonical term label (2021春) from cleaned text, NULL when it is not a term."""
    v = f"replace(replace({cleaned}, ' ', ''), '\u3000', '')"
    short = "([0-9]{4})年?(秋|春)季?(学期)?"
    long = "([0-9]{4})[-—–~至]([0-9]{4})学年第(一|二|1|2)学期"
    first = f"TRY_CAST(regexp_extract({v}, '^{long}$', 1) AS INTEGER)"
    second = f"TRY_CAST(regexp_extract({v}, '^{long}$', 2) AS INTEGER)"
    which = f"regexp_extract({v}, '^{long}$', 3)"
    return (
        f"(CASE "
        f"WHEN regexp_full_match({v}, '{short}') "
        f"THEN regexp_extract({v}, '^{short}$', 1) || regexp_extract({v}, '^{short}$', 2) "
        f"WHEN regexp_full_match({v}, '{long}') AND {second} = {first} + 1 "
        f"THEN CASE WHEN {which} IN ('一', '1') THEN CAST({first} AS VARCHAR) || '秋' "
        f"ELSE CAST({second} AS VARCHAR) || '春' END "
        f"END)"
    )


# -- Python mirror (small things only) --------------------------------------------------------------------

_DASHED = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"(日|-)?(\s+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


def parse_date(text: str | None) -> date | None:
    """The same reading as `date_sql` for one value.

    >>> parse_date("2020年9月1日"), parse_date("44075"), parse_date("20201")
    (datetime.date(2020, 9, 1), datetime.date(2020, 9, 1), None)
    """
    if text is None:
        return None
    v = str(text).translate(str.maketrans(_FULL, _HALF)).strip(" \t\u3000")
    if not v:
        return None
    dashed = _TIME.sub("", re.sub(r"[年月/.]", "-", v), count=1)
    result: date | None = None
    try:
        if m := _DASHED.match(dashed):
            result = date(int(m[1]), int(m[2]), int(m[3]))
        elif re.fullmatch(r"\d{8}", v):
            result = date(int(v[:4]), int(v[4:6]), int(v[6:]))
        elif re.fullmatch(r"\d{5}(\.0+)?", v) and SERIAL_MIN <= float(v) <= SERIAL_MAX:
            result = EXCEL_EPOCH + timedelta(days=int(float(v)))
    except ValueError:
        return None
    if result is None or not MIN_YEAR <= result.year <= MAX_YEAR:
        return None
    return result


def parse_term_label(text: str | None) -> str | None:
    """The canonical label for one term text, None when unreadable (mirror of `term_sql`)."""
    if text is None or not str(text).strip():
        return None
    try:
        return parse_term(str(text)).label
    except InputError:
        return None
