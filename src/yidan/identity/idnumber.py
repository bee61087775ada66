"""Resident ID numbers (居民身份证号): normalisation and validation, in SQL for the big tables.

Why SQL: `stdnum.cn.ric` checks ~15 k IDs/s, which is minutes for a province; the same check
as DuckDB arithmetic runs millions per second. stdnum stays the reference: the tests compare
the SQL and the Python helpers below with it. The Python helpers mirror the SQL exactly and
are meant for small things (a form field, a test case), never for a table.

Rules (DOMAIN.md): 18 characters, 17 digits + check character (ISO 7064 MOD 11-2, 'X' = 10),
characters 7-14 the birth date, the first six a division code. Full-width digits, spaces and
lower-case x are normalised; a legacy 15-digit ID gets the '19' century and a recomputed check
character, and is marked converted (`converted_sql`): its check character is no evidence. An ID that Excel turned into a number (4.30124E+17, or 18 digits ending in 000 that
fail the check) has lost digits: it is *mangled*, and the row carrying it is rejected, never
repaired.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from importlib import resources

WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index = weighted sum mod 11
DIVISIONS_TABLE = "yidan_id_divisions"  # code VARCHAR, num INTEGER, w INTEGER (see ensure_divisions)
DATES_TABLE = "yidan_id_dates"  # num INTEGER (yyyymmdd, 1900-01-01 to 2100-12-31), w INTEGER
CALENDAR_YEARS = (1900, 2100)

_FULL = "０１２３４５６７８９Ｘｘ"
_HALF = "0123456789XX"
_STRIP = re.compile(r"[\s\u3000\u00a0'`‘’\"-]")
_SCIENTIFIC = re.compile(r"^[0-9](\.[0-9]*)?[eE]\+?[0-9]+$")
_FLOAT_TAIL = re.compile(r"^[0-9]{15,18}\.0*$")

# -- SQL ------------------------------------------------------------------------------------------------


def clean_sql(raw: str) -> str:
    """SQL: the raw text with spaces, quotes and dashes removed, full-width digits and x made ASCII."""
    return (
        f"upper(translate(regexp_replace(CAST({raw} AS VARCHAR), '[\\s\\x{{3000}}\\x{{00a0}}''`‘’\"-]', '', 'g'), "
        f"'{_FULL}', '{_HALF}'))"
    )


def _check_char_from_int_sql(n: str) -> str:
    """SQL: the MOD 11-2 check character of a 17-digit body given as a BIGINT, split arithmetically."""
    terms = " + ".join(f"{w} * (({n} // {10 ** (16 - i)}) % 10)" for i, w in enumerate(WEIGHTS))
    return f"substr('{CHECK_CHARS}', CAST(({terms}) % 11 AS INTEGER) + 1, 1)"


def _check_char_sql(body17: str) -> str:
    return _check_char_from_int_sql(f"CAST({body17} AS BIGINT)")


def normalize_sql(cleaned: str) -> str:
    """SQL: the normalised ID from a cleaned one (see `clean_sql`): 15 digits become 18, else unchanged.

    Empty text gives NULL.
    """
    body = f"(substr({cleaned}, 1, 6) || '19' || substr({cleaned}, 7, 9))"
    return (
        f"CASE WHEN length({cleaned}) = 18 THEN {cleaned} WHEN {cleaned} = '' THEN NULL "
        f"WHEN regexp_full_match({cleaned}, '[0-9]{{15}}') THEN {body} || {_check_char_sql(body)} "
        f"ELSE {cleaned} END"
    )


def converted_sql(flag: str, cleaned: str) -> str:
    """SQL: true when the ID was written in the legacy 15-digit form (and `normalize_sql` converted it).

    A converted ID's century ('19') is assumed and its check character computed, so its validity
    proves nothing about its digits: linkage must not trust it as it trusts an 18-digit ID.
    `flag` is true for values already 18 characters long (never converted); never NULL.
    """
    return f"(CASE WHEN {flag} THEN false ELSE coalesce(regexp_full_match({cleaned}, '[0-9]{{15}}'), false) END)"


def shape_ok_sql(norm: str) -> str:
    """SQL: true when a normalised ID has the shape of an ID (17 digits + digit or X)."""
    return f"regexp_full_match({norm}, '[0-9]{{17}}[0-9X]')"


def body_sql(norm: str) -> str:
    """SQL: the first 17 digits as one BIGINT when the ID has the shape of an ID, else NULL.

    Computed once per row and reused by the checks below: the arithmetic is cheap, parsing is not.
    """
    return f"(CASE WHEN {shape_ok_sql(norm)} THEN CAST(left({norm}, 17) AS BIGINT) END)"


def checksum_from_body_sql(norm: str, body: str) -> str:
    return f"coalesce({_check_char_from_int_sql(body)} = right({norm}, 1), false)"


def checksum_ok_sql(norm: str) -> str:
    """SQL: shape and check character right (no birth date / division test)."""
    return checksum_from_body_sql(norm, body_sql(norm))


def birth_date_sql(norm: str) -> str:
    """SQL: the birth date held in an ID (characters 7-14), NULL when it is not a real date."""
    return (
        f"CASE WHEN {shape_ok_sql(norm)} THEN "
        f"CAST(try_strptime(substr({norm}, 7, 8), '%Y%m%d') AS DATE) END"
    )


def gender_sql(norm: str) -> str:
    """SQL: 男 / 女 from character 17 (odd = male); NULL when the ID has not the shape."""
    return (
        f"CASE WHEN {shape_ok_sql(norm)} THEN "
        f"CASE WHEN CAST(substr({norm}, 17, 1) AS INTEGER) % 2 = 1 THEN '男' ELSE '女' END END"
    )


def valid_from_body_sql(norm: str, body: str, *, divisions: bool = True, division_ok: str | None = None) -> str:
    """SQL: the full check on a normalised ID and its `body_sql` column (see `valid_sql`); never NULL.

    `division_ok` may name a boolean column from a join with the divisions table: at scale a
    join is far faster than the `IN (subquery)` used otherwise (measured: 14 s vs <1 s per 200 k rows).
    A CASE, not a bare AND: DuckDB evaluates the conditions of a CASE lazily (the checksum only for
    rows that passed the cheaper tests), a boolean value in full.
    """
    parts = [f"{body} IS NOT NULL"]
    if division_ok is not None:
        parts.append(division_ok)
    elif divisions:
        parts.append(f"coalesce(left({norm}, 6) IN (SELECT code FROM {DIVISIONS_TABLE}), false)")
    parts += [
        f"substr({norm}, 7, 4) >= '1900'",
        f"try_strptime(substr({norm}, 7, 8), '%Y%m%d') IS NOT NULL",
        checksum_from_body_sql(norm, body),
    ]
    return "(CASE WHEN " + " AND ".join(parts) + " THEN true ELSE false END)"


def valid_sql(norm: str, *, divisions: bool = True) -> str:
    """SQL: the full check — check character, a real birth date from 1900 on, a known division code.

    With `divisions` the query needs the table made by `ensure_divisions(con)`.
    """
    return valid_from_body_sql(norm, body_sql(norm), divisions=divisions)


def division_key_sql(body: str) -> str:
    """SQL: the first 6 digits of a `body_sql` value as an INTEGER, the join key of `DIVISIONS_TABLE`."""
    return f"CAST({body} // 100000000000 AS INTEGER)"


def date_key_sql(body: str) -> str:
    """SQL: digits 7-14 (the birth date, yyyymmdd) of a `body_sql` value, the join key of `DATES_TABLE`."""
    return f"CAST(({body} // 1000) % 100000000 AS INTEGER)"


def valid_joined_sql(norm: str, body: str, division_w: str, date_w: str) -> str:
    """SQL: the verdict of `valid_sql`, given the `w` columns of joins with the two small tables.

    `division_w` is `DIVISIONS_TABLE.w` joined on `division_key_sql(body)` (NULL: unknown
    division, so invalid); `date_w` is `DATES_TABLE.w` joined on `date_key_sql(body)`. A row found
    in the calendar has a real birth date from 1900 on, and its check character needs only the
    weights of the last three digits of the body: 5 integer operations instead of 34 (measured,
    with both joins: 0.37 vs 0.59 CPU s per million IDs). A birth date outside the calendar
    (not a date, or after 2100) takes the full test of `valid_from_body_sql`.
    """
    tail = f"(8 * (({body} % 1000) // 100) + 4 * (({body} % 100) // 10) + 2 * ({body} % 10))"
    fast = (f"ends_with({norm}, substr('{CHECK_CHARS}', "
            f"CAST(({division_w} + {date_w} + {tail}) % 11 AS INTEGER) + 1, 1))")
    slow = valid_from_body_sql(norm, body, divisions=False)
    return (f"(CASE WHEN {body} IS NULL OR {division_w} IS NULL THEN false "
            f"WHEN {date_w} IS NOT NULL THEN {fast} ELSE {slow} END)")


def mangled_sql(raw: str, cleaned: str, body: str | None = None) -> str:
    """SQL: true when the text is an ID Excel turned into a number (its last digits are lost).

    `raw` is the text as read (it is trimmed here, where it matters); `body` may name a
    precomputed `body_sql` column of the same (18-character) value. Meant as a CASE condition,
    where the cheap tests (a '.' or '+' in the text, a cleaned value ending in 000) keep the
    regular expressions and the checksum off almost every row; it may be NULL for a NULL value.
    (`ends_with`, not `right`, which splits the text into grapheme clusters: the same verdict
    here, as the value must then be 18 ASCII digits.)
    """
    body = body or body_sql(cleaned)
    trimmed = f"trim({raw})"
    return (
        f"(((contains({raw}, '.') OR contains({raw}, '+')) AND "
        f"(regexp_full_match({trimmed}, '[0-9](\\.[0-9]*)?[eE]\\+?[0-9]+') "
        f"OR regexp_full_match({trimmed}, '[0-9]{{15,18}}\\.0*'))) "
        f"OR (ends_with({cleaned}, '000') AND regexp_full_match({cleaned}, '[0-9]{{18}}') "
        f"AND NOT {checksum_from_body_sql(cleaned, body)}))"
    )


def _weights_sql(digits: str, first: int, count: int) -> str:
    """SQL: the MOD 11-2 weighted sum (mod 11) of `count` digits of text `digits`, body positions from `first`."""
    terms = " + ".join(f"{WEIGHTS[first + i]} * CAST(substr({digits}, {i + 1}, 1) AS INTEGER)" for i in range(count))
    return f"CAST(({terms}) % 11 AS INTEGER)"


def ensure_divisions(con) -> None:
    """Create the small tables the SQL check joins: division codes (from stdnum's cn/loc.dat) and a calendar.

    Each row carries `w`, the weighted sum mod 11 of its digits at their place in the ID body
    (positions 1-6 for a division, 7-14 for a birth date), so a joined row needs only its last
    three digits weighed (`valid_joined_sql`).
    """
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [DATES_TABLE]
    ).fetchone()[0]
    if exists:
        return
    codes = sorted(division_codes())
    con.execute(f"DROP TABLE IF EXISTS {DIVISIONS_TABLE}")
    con.execute(
        f"CREATE TEMP TABLE {DIVISIONS_TABLE} AS SELECT code, CAST(code AS INTEGER) AS num, "
        f"{_weights_sql('code', 0, 6)} AS w FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS code)", [codes])
    first, last = CALENDAR_YEARS
    con.execute(
        f"CREATE TEMP TABLE {DATES_TABLE} AS SELECT CAST(ymd AS INTEGER) AS num, {_weights_sql('ymd', 6, 8)} AS w "
        f"FROM (SELECT strftime(d, '%Y%m%d') AS ymd FROM range(DATE '{first}-01-01', DATE '{last + 1}-01-01', "
        "INTERVAL 1 DAY) AS t(d))")


# -- Python mirror (small things only) --------------------------------------------------------------------


@cache
def division_codes() -> frozenset[str]:
    """Every 6-digit division code stdnum knows, current or historical."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    codes: set[str] = set()
    prefix = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        token = line.strip().split(" ", 1)[0]
        if line[0] != " ":
            prefix = token
            if len(prefix) == 6:
                codes.add(prefix)
        else:
            codes.add(prefix + token)
    return frozenset(c for c in codes if len(c) == 6 and c.isdigit())


def clean_id(text: str | None) -> str:
    return _STRIP.sub("", str(text or "")).translate(str.maketrans(_FULL, _HALF)).upper()


def check_char(body17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True)) % 11]


def normalize_id(text: str | None) -> str | None:
    """'４３０１２４２００９０３１５００１ｘ' -> '43012420090315001X'; 15 digits -> 18; '' -> None.

    >>> normalize_id("430124090315001")
    '430124190903150011'
    """
    cleaned = clean_id(text)
    if not cleaned:
        return None
    if len(cleaned) == 15 and cleaned.isdigit():
        body = cleaned[:6] + "19" + cleaned[6:]
        return body + check_char(body)
    return cleaned


def _shape_ok(norm: str) -> bool:
    return len(norm) == 18 and norm[:17].isdigit() and (norm[17].isdigit() or norm[17] == "X")


def birth_date_of(norm: str) -> date | None:
    if not _shape_ok(norm):
        return None
    try:
        return date(int(norm[6:10]), int(norm[10:12]), int(norm[12:14]))
    except ValueError:
        return None


def is_valid_id(text: str | None) -> bool:
    """The same verdict as `valid_sql` for one ID (normalised first)."""
    norm = normalize_id(text)
    if norm is None or not _shape_ok(norm) or check_char(norm[:17]) != norm[17]:
        return False
    born = birth_date_of(norm)
    return born is not None and born.year >= 1900 and norm[:6] in division_codes()


def is_excel_mangled(text: str | None) -> bool:
    """True for 4.30124E+17, 430124200903150000.0, or 18 digits ending in 000 that fail the check."""
    raw = str(text or "").strip()
    if _SCIENTIFIC.match(raw) or _FLOAT_TAIL.match(raw):
        return True
    norm = normalize_id(raw) or ""
    return len(norm) == 18 and norm.isdigit() and norm.endswith("000") and check_char(norm[:17]) != norm[17]
