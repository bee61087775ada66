"""Region codes: province (2 digits), city (4), county (6), township (9), village (12).

Every query is scoped by a user's region by prefix: a county code starts with its
city's code, which starts with its province's. Names come from python-stdnum's
division table (the same table that validates ID numbers), through `identity.divisions`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from yidan.identity import divisions

LEVELS = {2: "省", 4: "市州", 6: "县市区", 9: "乡镇", 12: "村"}


def level_label(code: str) -> str:
    return LEVELS.get(len(code), "地区")


def child_length(code: str) -> int | None:
    """Length of the codes one level below `code` (None below township)."""
    return {2: 4, 4: 6, 6: 9}.get(len(code))


def contains(region: str, code: str | None) -> bool:
    """Whether `code` lies inside `region` (a user's scope)."""
    return bool(code) and str(code).startswith(region)


def region_name(code: str) -> str:
    """Chinese name of a province, city or county code; the code itself when unknown.
    One source for every output: `yidan.identity.divisions.region_name`."""
    return divisions.region_name(code)


def names_in(session: Any, *, region: str) -> dict[str, str]:
    """Township, village and school codes of the region's cases -> their names, as the run carried them
    (the registry's 乡镇名称 / 村名称, the enrollment's 学校名称), from the `places` written at publish:
    an index read of the county's places, never a scan of the cases (a county dashboard under a crowd)."""
    from sqlalchemy import or_

    from yidan.store.models import Place

    stmt = select(Place.code, Place.name).where(Place.county == region[:6], Place.name.is_not(None))
    if len(region) > 6:
        stmt = stmt.where(or_(Place.kind == "school", Place.code.startswith(region, autoescape=True)))
    out = {code: str(name) for code, name in session.execute(stmt)}
    return out or _names_from_cases(session, region=region)


def _names_from_cases(session: Any, *, region: str) -> dict[str, str]:
    """The same names from the cases' person records (cases published before the places were kept).
    One case per code is read, so this costs a few rows per township, not a row per case."""
    from yidan.store.models import Case

    out: dict[str, str] = {}
    scope = Case.county.startswith(region[:6], autoescape=True)
    if len(region) > 6:
        scope = scope & Case.township.startswith(region, autoescape=True)
    for col, key, own in ((Case.township, "township_name", "hukou_township"),
                          (Case.village, "village_name", "hukou_village"),
                          (Case.school_code, "school_name", "school_code")):
        first = select(func.min(Case.id)).where(scope, col.is_not(None)).group_by(col)
        for code, person in session.execute(select(col, Case.person).where(Case.id.in_(first))):
            p = person or {}
            if p.get(key) and p.get(own) in (None, code):
                out[code] = str(p[key])
    return out


def place_label(code: str | None, names: dict[str, str]) -> str:
    """A region code as a clerk reads it: its name with the code, the name alone for counties and up."""
    if not code:
        return ""
    if len(code) <= 6:
        return region_name(code)
    name = names.get(code)
    return f"{name}（{code}）" if name else code
