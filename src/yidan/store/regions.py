"""Region codes: province (2 digits), city (4), county (6), township (9), village (12).

Every query is scoped by a user's region by prefix: a county code starts with its
city's code, which starts with its province's. Names come from python-stdnum's
division table (the same table that validates ID numbers).
"""

from __future__ import annotations

import re
from functools import lru_cache

LEVELS = {2: "省", 4: "市州", 6: "县市区", 9: "乡镇", 12: "村"}
_YEARS = re.compile(r"^\[[^\]]*\]")


def level_label(code: str) -> str:
    return LEVELS.get(len(code), "地区")


def child_length(code: str) -> int | None:
    """Length of the codes one level below `code` (None below township)."""
    return {2: 4, 4: 6, 6: 9}.get(len(code))


def contains(region: str, code: str | None) -> bool:
    """Whether `code` lies inside `region` (a user's scope)."""
    return bool(code) and str(code).startswith(region)


@lru_cache(maxsize=4096)
def region_name(code: str) -> str:
    """Chinese name of a province, city or county code; the code itself when unknown."""
    try:
        from stdnum import numdb

        db = numdb.get("cn/loc")
        six = (code + "0000")[:6] if len(code) < 6 else code[:6]
        info = db.info(six)
        province = info[0][1].get("province", "")
        if len(code) == 2:
            return province or code
        county = info[1][1].get("county", "") if len(info) > 1 else ""
        county = _YEARS.sub("", county)
        if len(code) in (4, 6) and county:
            return county
    except Exception:  # the table is a convenience; a code is always a valid answer
        pass
    return code
