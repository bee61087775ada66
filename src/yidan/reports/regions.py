"""Region names and the region a county rolls up to at each report level.

Names come from `yidan.identity.divisions` (python-stdnum's division table); cities
(xxxx00) and provinces (xx0000) are entries of the same table.
"""

from __future__ import annotations

from yidan.identity import divisions


def region_name(code: str) -> str:
    """Chinese name of a province, city or county code (one source: `identity.divisions`)."""
    return divisions.region_name(code)


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
