"""Dates and terms as real exports write them: read in SQL, mirrored in Python, never guessed."""

from datetime import date

import duckdb
import pytest

from yidan.identity import dates

READABLE = [
    ("2020-09-01", date(2020, 9, 1)),
    ("2020/9/1", date(2020, 9, 1)),
    ("20200901", date(2020, 9, 1)),
    ("2020年9月1日", date(2020, 9, 1)),
    ("2020.09.01", date(2020, 9, 1)),
    ("44075", date(2020, 9, 1)),  # Excel serial number
    ("44075.0", date(2020, 9, 1)),
    ("2020-09-01 00:00:00", date(2020, 9, 1)),
    ("２０２０－０９－０１", date(2020, 9, 1)),
    (" 2009-3-15 ", date(2009, 3, 15)),
]
UNREADABLE = ["2020-02-30", "20201301", "1899-12-31", "9/1/2020", "2020", "不详", "2020-09",
              "20201", "19991", "21915", "73051"]  # five digits outside the serials of 1960-2099


def sql_dates(values):
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT generate_subscripts(?, 1) AS i, unnest(CAST(? AS VARCHAR[])) AS raw",
                [values, values])
    return [r[0] for r in con.execute(
        f"SELECT {dates.date_sql('c')} FROM (SELECT i, {dates.clean_sql('raw')} AS c FROM t) ORDER BY i").fetchall()]


@pytest.mark.parametrize(("written", "expected"), READABLE)
def test_date_forms_of_real_exports_are_read(written, expected):
    assert dates.parse_date(written) == expected


def test_sql_reads_the_same_dates_as_python():
    values = [w for w, _ in READABLE] + UNREADABLE
    assert sql_dates(values) == [d for _, d in READABLE] + [None] * len(UNREADABLE)


@pytest.mark.parametrize("written", UNREADABLE)
def test_impossible_or_ambiguous_dates_are_not_guessed(written):
    assert dates.parse_date(written) is None


@pytest.mark.parametrize(("written", "label"), [
    ("2020秋", "2020秋"), ("2021春", "2021春"), ("2020年秋季学期", "2020秋"),
    ("2020-2021学年第一学期", "2020秋"), ("2020-2021学年第二学期", "2021春"), ("2020 秋", "2020秋"),
    ("2020-2022学年第一学期", None), ("2020夏", None), ("秋", None),
])
def test_terms_are_read_in_sql_like_parse_term(written, label):
    con = duckdb.connect()
    got = con.execute(f"SELECT {dates.term_sql(dates.clean_sql('raw'))} FROM (SELECT ? AS raw)",
                      [written]).fetchone()[0]
    assert got == label == dates.parse_term_label(written)
