"""Reading the dates clerks type: real Excel dates, 2021-03-10, 2021/3/10, 2021年3月10日, 20210310."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_YMD = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_typed_date(value: object) -> date | None:
    """The date a cell holds, or None when it cannot be read as one (never a guess)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20_000 < value < 80_000 and float(value).is_integer():  # an Excel serial day
            return _EXCEL_EPOCH + timedelta(days=int(value))
        value = str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    m = _YMD.match(text) or _COMPACT.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
