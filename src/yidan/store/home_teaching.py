"""送教上门 as a service: visits to HOME_TEACHING children, and the children whose visits fall behind.

The children are those of the latest published run with status HOME_TEACHING (read from the run's
persons in DuckDB, filtered by region); visits are kept in the application. A child is behind when
the visits recorded this term are fewer than the expected number so far: the term's expected visits
(settings: supervision.home_visits_per_term) spread evenly from the term's first day to its last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidan.identity.terms import parse_term
from yidan.reports.runsql import connect, sql_literal
from yidan.runs.rundir import RunDir
from yidan.store.errors import ActionError
from yidan.store.models import HomeVisit, User


def expected_by(term: str, on: date, per_term: int) -> int:
    """Visits expected by `on`: the term's share elapsed × visits per term, rounded up (0 before it starts)."""
    t = parse_term(term)
    start, end = t.start(), t.end()
    if on < start:
        return 0
    share = min(1.0, ((on - start).days + 1) / ((end - start).days + 1))
    return math.ceil(per_term * share)


@dataclass
class Child:
    person_id: str
    name: str
    county: str
    place: str
    school: str
    head_name: str
    visits: int = 0
    expected: int = 0

    @property
    def behind(self) -> bool:
        return self.visits < self.expected


def children(session: Session, *, run: RunDir, region: str, on: date, per_term: int) -> list[Child]:
    """The region's HOME_TEACHING children with this term's visits and the number expected by `on`."""
    con = connect(run)
    try:
        cur = con.execute(
            "SELECT person_id, name, hukou_county, concat_ws(' ', county_name, township_name, village_name) AS place, "
            "school_name, head_name FROM persons WHERE status = 'HOME_TEACHING' AND starts_with(hukou_county, "
            f"{sql_literal(region[:6])}) ORDER BY hukou_county, hukou_township NULLS LAST, person_id")
        found = [Child(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5] or "") for r in cur.fetchall()]
    finally:
        con.close()
    if not found:
        return []
    counts = dict(session.execute(
        select(HomeVisit.person_id, func.count()).where(HomeVisit.term == run.term,
                                                        HomeVisit.person_id.in_([c.person_id for c in found]))
        .group_by(HomeVisit.person_id)).all())
    expected = expected_by(run.term, on, per_term)
    for c in found:
        c.visits, c.expected = int(counts.get(c.person_id, 0)), expected
    return found


# statuses of a child with no enrollment of any kind (送教上门 is HOME_TEACHING, itself a kind of enrollment)
NOT_SCHOOLED = ("DROPPED_OUT", "SUSPENDED", "EXEMPT", "NOT_PROGRESSED", "UNMATCHED")


@dataclass
class Unschooled(Child):
    """A compulsory-age child with a disability marker (the registry's 残疾类别, or the 残联 list of the
    targets input) who has neither an enrollment nor a 送教上门 visit this term: to be placed in a special
    school, a regular class or 送教上门."""

    township: str = ""
    status_label: str = ""
    disability: str = ""
    listed: bool = False  # on the 残联 (targets) list as 残疾


def _unschooled_from(region: str) -> str:
    codes = ", ".join(sql_literal(c) for c in NOT_SCHOOLED)
    inside = (f"hukou_township = {sql_literal(region)}" if len(region) == 9
              else f"starts_with(hukou_county, {sql_literal(region[:6])})")
    return (f"FROM persons p WHERE compulsory_age AND status IN ({codes}) "
            "AND (nullif(trim(disability), '') IS NOT NULL OR coalesce(disability_listed, false)) "
            f"AND {inside} "
            "AND p.person_id NOT IN (SELECT person_id FROM visited)")


def _visited(session: Session, con: Any, *, run: RunDir, region: str) -> None:
    """This term's visited children of the region, as a DuckDB table `visited` (a few thousand at most)."""
    import pyarrow as pa

    ids = session.scalars(select(HomeVisit.person_id).distinct().where(
        HomeVisit.term == run.term, HomeVisit.county.startswith(region[:6], autoescape=True)))
    con.register("visited", pa.table({"person_id": pa.array(list(ids), pa.string())}))


def unschooled_disabled(session: Session, *, run: RunDir, region: str) -> list[Unschooled]:
    """The region's (province, city, county or township) disabled children with neither enrollment nor
    送教 this term, in SQL (DuckDB)."""
    con = connect(run)
    try:
        _visited(session, con, run=run, region=region)
        rows = con.execute(
            "SELECT person_id, name, hukou_county, concat_ws(' ', county_name, township_name, village_name), "
            "school_name, head_name, coalesce(hukou_township, ''), status_label, coalesce(disability, ''), "
            f"coalesce(disability_listed, false) {_unschooled_from(region)} "
            "ORDER BY hukou_county, hukou_township NULLS LAST, person_id").fetchall()
    finally:
        con.close()
    return [Unschooled(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5] or "", township=r[6],
                       status_label=r[7] or "", disability=r[8], listed=bool(r[9])) for r in rows]


def unschooled_counts(session: Session, *, run: RunDir, region: str, by: str) -> dict[str, int]:
    """How many such children per county (`by="county"`) or township inside `region`, grouped in DuckDB."""
    column = "hukou_county" if by == "county" else "hukou_township"
    con = connect(run)
    try:
        _visited(session, con, run=run, region=region)
        rows = con.execute(f"SELECT {column}, count(*) {_unschooled_from(region)} GROUP BY 1").fetchall()
    finally:
        con.close()
    return {str(k or "未知"): int(n) for k, n in rows}


def record_visit(session: Session, *, user: User, child: Child, term: str, visited_on: date, teacher: str,
                 content: str, minutes: int, on: date) -> HomeVisit:
    if not teacher.strip() or not content.strip():
        raise ActionError("送教记录须填写送教教师和送教内容。", hint="填写后重新提交。")
    if not 10 <= minutes <= 600:
        raise ActionError(f"送教时长不合理：{minutes} 分钟（应在 10 到 600 分钟之间）。", hint="填写实际送教时长（分钟）。")
    t = parse_term(term)
    if not (t.start() <= visited_on <= min(t.end(), on)):
        raise ActionError(f"送教日期不在本学期内或晚于今天：{visited_on.isoformat()}",
                          hint=f"本学期为 {t.start().isoformat()} 至 {t.end().isoformat()}。")
    visit = HomeVisit(person_id=child.person_id, county=child.county, term=term, visited_on=visited_on,
                      teacher=teacher.strip()[:64], content=content.strip()[:2000], minutes=minutes, user_id=user.id)
    session.add(visit)
    session.flush()
    return visit


def find(kids: list[Child], token: str, key: Any) -> Child | None:
    """The child whose keyed token (never the ID itself in a form) is `token`."""
    return next((c for c in kids if key(c.person_id) == token), None)
