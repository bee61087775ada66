"""The places of the cases (townships, villages, schools) for filter menus and typeahead.

Read from the small `places` table written at publish, inside the user's region only, a
bounded number at a time: a province-level list page never carries 17,923 villages.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yidan.store.models import Place
from yidan.store.regions import contains, place_label, region_name

KINDS = {"township": "乡镇", "village": "村", "school": "学校"}
LIMIT = 50


def counties(session: Session, *, region: str) -> list[tuple[str, str]]:
    """The counties of the region that have cases, with their names (a province has about a hundred)."""
    if len(region) >= 6:
        return [(region[:6], region_name(region[:6]))]
    stmt = select(Place.county).where(Place.county.startswith(region, autoescape=True)).distinct()
    return [(c, region_name(c)) for c in sorted(session.scalars(stmt))]


def find(session: Session, *, region: str, kind: str, parent: str | None = None, q: str | None = None,
         limit: int = LIMIT) -> tuple[list[tuple[str, str]], bool]:
    """Up to `limit` places of `kind` inside `region` (and `parent`: a county, or a township for villages)
    whose code starts with `q` or whose name contains it, as (code, label); and whether more matched."""
    if kind not in KINDS:
        return [], False
    stmt = select(Place.code, Place.name).where(Place.kind == kind,
                                                Place.county.startswith(region[:6], autoescape=True))
    if len(region) > 6:
        stmt = stmt.where(Place.code.startswith(region, autoescape=True))
    if parent:
        if not (contains(region, parent) or contains(parent, region)):
            return [], False
        stmt = stmt.where(Place.county == parent[:6])
        if len(parent) > 6:  # a township: its villages
            stmt = stmt.where(Place.parent == parent)
    if q:
        stmt = stmt.where(or_(Place.code.startswith(q, autoescape=True), Place.name.contains(q, autoescape=True)))
    rows = list(session.execute(stmt.order_by(Place.code).limit(limit + 1)))
    names = {code: name for code, name in rows if name}
    return [(code, place_label(code, names)) for code, _ in rows[:limit]], len(rows) > limit


def names_of(session: Session, *, codes: list[str]) -> dict[str, str]:
    """Names of the given place codes (the filters a page was opened with)."""
    wanted = [c for c in codes if c]
    if not wanted:
        return {}
    stmt = select(Place.code, Place.name).where(Place.code.in_(wanted), Place.name.is_not(None))
    return {code: name for code, name in session.execute(stmt) if name}
