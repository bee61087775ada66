"""Names of administrative divisions (区划), from python-stdnum's `cn/loc.dat`.

Findings tell a county clerk which county must pay ("应由 宁乡县（学籍地）发放"), so codes
are shown with their names. The table is stdnum's copy of the national division codes,
including historical ones (shown there as "[1983-2017]宁乡县"; the year range is dropped
here). A code the table does not know is shown as the code itself: a finding must never
lose its county because a name is missing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from stdnum import numdb

_YEARS = re.compile(r"^\[[^\]]*\]")


def _clean(name: str) -> str:
    """'[-1996]东区,[1996-]芙蓉区' -> '芙蓉区': the spelling still in force, else the latest."""
    parts = [p.strip() for p in name.split(",") if p.strip()]
    current = [p for p in parts if not p.startswith("[") or p.startswith("[") and p.split("]")[0].endswith("-")]
    chosen = (current or parts)[-1]
    return _YEARS.sub("", chosen).strip()


def _is_current(name: str) -> bool:
    last = name.split(",")[-1].strip()
    return not last.startswith("[") or last.split("]")[0].endswith("-")


@lru_cache(maxsize=1)
def county_names() -> dict[str, str]:
    """Every 6-digit county code in the table -> its name (the latest spelling wins)."""
    out: dict[str, str] = {}
    db = numdb.get("cn/loc")
    for _len, low, high, props, children in db.prefixes:
        province = props.get("province")
        if low != high:  # the table has no province ranges; keep the walk honest if it ever does
            continue
        if province:
            out.setdefault(f"{low}0000", _clean(province))
        for _clen, clow, chigh, cprops, _ in children:
            name = cprops.get("county")
            if not name:
                continue
            for num in range(int(clow), int(chigh) + 1):
                code = f"{low}{num:0{len(clow)}d}"
                if _is_current(name) or code not in out:
                    out[code] = _clean(name)
    return out


def province_name(code: str) -> str | None:
    """'43' or '430124' -> '湖南省'; None when unknown."""
    name = county_names().get(f"{str(code)[:2]}0000")
    return name


def county_name(code: str | None) -> str | None:
    """'430124' -> '宁乡县'; None when the code is empty or unknown."""
    if not code:
        return None
    return county_names().get(str(code)[:6])


def county_label(code: str | None) -> str:
    """A county as a clerk reads it: its name, or the code itself when the name is unknown."""
    if not code:
        return "（未知县）"
    return county_name(code) or str(code)[:6]


def region_name(code: str | None) -> str:
    """The one name of a province (2), city (4) or county (6 digits) code, everywhere (web, workbooks,
    samples): '430102' -> '芙蓉区', '4301' -> '长沙市', '43' -> '湖南省'. Township and village codes
    (9, 12) are not in this table — their names come with the registry (乡镇名称, 村名称) — so they,
    and any unknown code, are returned as the code itself."""
    if not code:
        return ""
    c = str(code)
    if len(c) in (2, 4, 6):
        return county_names().get((c + "0000")[:6]) or c
    return c


def county_rows(codes: list[str] | None = None) -> list[tuple[str, str]]:
    """(code, label) pairs for an engine lookup table; all known counties when `codes` is None."""
    if codes is None:
        return sorted(county_names().items())
    return [(c, county_label(c)) for c in sorted({str(c) for c in codes if c})]
