"""Trends across rounds: each region's 核实率, 办结率 and 超期数 at the end of every published round.

The cases table holds only where each case stands now, so a round's figures are kept when the round
ends: publishing the next round first calls `record_round_end`, which counts, in two grouped INSERT …
SELECTs over the cases table (one per county, one per township), what the ranking would have shown
that moment, and stores the counts against the round that ends (`RoundFigure`). The ranking then reads
the last `TREND_ROUNDS` rounds beside its live figures; the change since the last round is the live
figure minus the last stored one (rates in percentage points).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from yidan.store import deadlines
from yidan.store.models import CLOSED_STATES, Case, RoundFigure, Run, utcnow

TREND_ROUNDS = 4  # earlier rounds shown beside the current figures
TREND_KEYS = ("verify_rate", "close_rate", "overdue")  # the figures followed across rounds


@dataclass(frozen=True)
class Round:
    run_pk: int
    run_id: str | None
    taken_at: datetime  # UTC: when the next round was published

    @property
    def label(self) -> str:
        return f"#{self.run_pk}"


def record_round_end(session: Session, *, run: Run) -> int:
    """Before `run` is published: keep, per county and township of its province, the counts of the
    round that ends now (the last published one). Returns the regions written (0 for a first round)."""
    ending = session.scalar(select(Run.id).where(Run.status == "published", Run.region == run.region,
                                                 Run.id != run.id)
                            .order_by(Run.published_at.desc(), Run.id.desc()).limit(1))
    if ending is None:
        return 0
    session.execute(delete(RoundFigure).where(RoundFigure.run_pk == ending))
    day, now = deadlines.today(), utcnow()

    def n(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    written = 0
    for column in (Case.county, Case.township):
        counts = deadlines._join(select(
            literal(ending).label("run_pk"), column.label("region"), func.count().label("cases"),
            n(Case.state != "open").label("verified"), n(Case.state.in_(CLOSED_STATES)).label("closed"),
            n(deadlines.due_column() < day).label("overdue"), literal(day).label("counted_on"),
            literal(now).label("taken_at"),
        )).where(Case.county.startswith(run.region, autoescape=True), column.is_not(None)).group_by(column)
        cols = ["run_pk", "region", "cases", "verified", "closed", "overdue", "counted_on", "taken_at"]
        result = session.execute(insert(RoundFigure).from_select(cols, counts))
        written += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return written


def rounds(session: Session, *, province: str, limit: int = TREND_ROUNDS) -> list[Round]:
    """The last `limit` ended rounds of the province that have stored figures, oldest first."""
    stmt = (select(RoundFigure.run_pk, Run.run_id, func.max(RoundFigure.taken_at))
            .join(Run, Run.id == RoundFigure.run_pk).where(Run.region == province[:2])
            .group_by(RoundFigure.run_pk, Run.run_id).order_by(RoundFigure.run_pk.desc()).limit(limit))
    return sorted((Round(pk, rid, at) for pk, rid, at in session.execute(stmt)), key=lambda r: r.run_pk)


def history(session: Session, *, region: str, child_level: str, ended: list[Round]) -> dict[str, dict[int, dict[str, int]]]:
    """{child region or "*" for `region` itself: {run_pk: counts}} of the ended rounds, in SQL: the
    children's stored rows, and their sums for the region (a county's own row is its total)."""
    if not ended:
        return {}
    pks = [r.run_pk for r in ended]
    width = 6 if child_level == "county" else 9
    f = RoundFigure
    inside = (f.run_pk.in_(pks), f.region.startswith(region, autoescape=True), func.length(f.region) == width)
    out: dict[str, dict[int, dict[str, int]]] = {}
    keys = ("cases", "verified", "closed", "overdue")
    for r in session.execute(select(f.region, f.run_pk, f.cases, f.verified, f.closed, f.overdue).where(*inside)):
        out.setdefault(r.region, {})[r.run_pk] = {k: int(getattr(r, k)) for k in keys}
    own = (f.region == region,) if len(region) == 6 else inside
    total = select(f.run_pk, *(func.sum(getattr(f, k)).label(k) for k in keys)).where(
        f.run_pk.in_(pks), *own).group_by(f.run_pk)
    for r in session.execute(total):
        out.setdefault("*", {})[r.run_pk] = {k: int(getattr(r, k) or 0) for k in keys}
    return out
