"""Reading the dates clerks type: real Excel dates, 2021-03-10, 2021/3/10, 2021年3月10日, 20210310.

Text is read by the one date reader of the inputs (`identity.dates.parse_date`: the same forms, the same
Excel-serial range and years); here only what a workbook cell can hold besides text is handled.
"""

from __future__ import annotations

from datetime import date, datetime

from yidan.identity.dates import parse_date


def parse_typed_date(value: object) -> date | None:
    """The date a cell holds, or None when it cannot be read as one (never a guess)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    return parse_date(str(value).strip())
