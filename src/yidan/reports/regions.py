"""Region names for the workbooks, from python-stdnum's division table (cn/loc.dat).

The audit helper is writing `yidan.identity.divisions`; until it lands this small
lookup keeps the reports readable. Historical names carry a validity prefix such as
"[1983-2017]宁乡县" in the table; the current name is shown, without it.
"""

from __future__ import annotations

import re
from functools import cache

from stdnum import numdb

_VALIDITY = re.compile(r"^\[[^\]]*\]")


def _clean(name: str) -> str:
    """The current name: the table lists renamings oldest first, comma-separated."""
    current = [n for n in name.split(",") if not re.match(r"^\[[^\]]*-\d+\]", n)]
    return _VALIDITY.sub("", (current or name.split(","))[-1]).strip()


@cache
def region_name(code: str) -> str:
    """Chinese name of a 6-digit division code (county, city xx00 or province xx0000).

    Unknown codes come back as the code itself so nothing is hidden.
    """
    code = str(code or "").strip()
    if len(code) != 6 or not code.isdigit():
        return code or "（未知地区）"
    try:
        parts = numdb.get("cn/loc").info(code)
    except Exception:  # noqa: BLE001 - a lookup table gap must not stop a report
        return code
    if len(parts) < 2 or not parts[1][1]:
        return code
    props = parts[1][1]
    name = props.get("county") or props.get("prefecture") or ""
    if code.endswith("0000"):
        name = parts[0][1].get("province", name)
    return _clean(name) or code


def city_of(county: str) -> str:
    """The city (市州) code a county code belongs to: its first four digits + "00"."""
    return str(county)[:4] + "00"


def province_of(county: str) -> str:
    return str(county)[:2] + "0000"


def parent_of(code: str, level: str) -> str:
    """The region a county falls in at `level` (county, city or province)."""
    if level == "county":
        return str(code)
    if level == "city":
        return city_of(code)
    return province_of(code)
