"""Dates as clerks type them into the 核实日期 column."""

from __future__ import annotations

import datetime as dt

import pytest

from yidan.reports.dates import parse_typed_date


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (dt.datetime(2021, 3, 10, 0, 0), dt.date(2021, 3, 10)),  # a real Excel date
        (dt.date(2021, 3, 10), dt.date(2021, 3, 10)),
        ("2021-03-10", dt.date(2021, 3, 10)),
        ("2021/3/9", dt.date(2021, 3, 9)),
        ("2021.3.9", dt.date(2021, 3, 9)),
        ("2021年3月9日", dt.date(2021, 3, 9)),
        (" 20210309 ", dt.date(2021, 3, 9)),
        (20210309, dt.date(2021, 3, 9)),
        (44265.0, dt.date(2021, 3, 10)),  # an Excel serial day left as a number
        ("2021-02-30", None),  # no such day: never guessed
        ("三月十日", None),
        ("3/10", None),  # no year: never guessed
    ],
)
def test_typed_dates_are_read_or_refused_never_guessed(typed, expected):
    assert parse_typed_date(typed) == expected
