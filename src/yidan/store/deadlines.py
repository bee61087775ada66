"""Due dates of cases: per published round and finding code, in calendar days.

The province sets, per round, the day by which each code's cases must be verified (核实) and the
day by which they must be closed (办结); rounds nobody set get `SupervisionSettings`' defaults,
counted from the day the round was published (Beijing time). A case takes the dates of the round
that opened it, and what falls due depends on where it stands: an open case owes its 核实, a
verified one its 办结; a closed case owes nothing.

Lists filter and sort by the due date in SQL (`due_column`, `apply_due`), never in Python rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from yidan.contract.codes import FINDING_CODES
from yidan.identity.terms import parse_term
from yidan.settings import SupervisionSettings
from yidan.store.errors import ActionError
from yidan.store.models import CLOSED_STATES, Case, Run, RunDeadline, User, utcnow

LOCAL = ZoneInfo("Asia/Shanghai")
SOON_DAYS = 7  # "7 天内到期"
DUE_FILTERS = {"overdue": "已超期", "soon": f"{SOON_DAYS} 天内到期"}
KIND_LABELS = {"verify": "核实期限", "close": "办结期限"}


def today() -> date:
    """Today in Beijing: a deadline is a day on the county's calendar."""
    return datetime.now(UTC).astimezone(LOCAL).date()


def local_day(at: datetime | None) -> date:
    if at is None:
        return today()
    return at.replace(tzinfo=UTC).astimezone(LOCAL).date()


@dataclass(frozen=True)
class Due:
    kind: str  # verify | close
    due: date
    days_left: int  # negative: overdue by that many days

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def text(self) -> str:
        if self.days_left < 0:
            return f"已超期 {-self.days_left} 天"
        if self.days_left == 0:
            return "今天到期"
        return f"还剩 {self.days_left} 天"

    def as_dict(self) -> dict[str, Any]:
        return {"due_kind": self.kind, "due_date": self.due, "days_left": self.days_left, "overdue": self.overdue}


def default_dates(*, code: str, published: date, term: str | None, settings: SupervisionSettings) -> tuple[date, date]:
    """(核实, 办结) due dates of one code for a round published on `published`."""
    verify = published + timedelta(days=settings.verify_days)
    if code in settings.close_by_term_end and term:
        close = parse_term(term).end()
    else:
        close = published + timedelta(days=settings.close_days.get(code, settings.default_close_days))
    return verify, max(close, verify)


def round_dates(session: Session, *, run: Run, settings: SupervisionSettings) -> dict[str, tuple[date, date]]:
    """Every code's (核实, 办结) dates of a round: those stored, else the defaults."""
    stored = {d.code: (d.verify_due, d.close_due)
              for d in session.scalars(select(RunDeadline).where(RunDeadline.run_pk == run.id))}
    published = local_day(run.published_at)
    return {code: stored.get(code) or default_dates(code=code, published=published, term=run.term, settings=settings)
            for code in FINDING_CODES}


def set_dates(session: Session, *, run: Run, user: User, dates: dict[str, tuple[date, date]]) -> None:
    """The province's dates for a round (a 办结 date before the 核实 date is refused)."""
    for code, (verify, close) in dates.items():
        if code not in FINDING_CODES:
            raise ActionError(f"未知的问题代码：{code}", hint="可选：" + "、".join(FINDING_CODES))
        if close < verify:
            raise ActionError(f"{code} 的办结期限（{close.isoformat()}）早于核实期限（{verify.isoformat()}）。",
                              hint="办结期限应不早于核实期限。")
    existing = {d.code: d for d in session.scalars(select(RunDeadline).where(RunDeadline.run_pk == run.id))}
    for code, (verify, close) in dates.items():
        row = existing.get(code)
        if row is None:
            session.add(RunDeadline(run_pk=run.id, code=code, verify_due=verify, close_due=close, set_by=user.id))
        else:
            row.verify_due, row.close_due, row.set_by, row.set_at = verify, close, user.id, utcnow()
    session.flush()


def ensure(session: Session, *, settings: SupervisionSettings) -> int:
    """Write the default dates of every published round that has none (publishing calls it; lists call
    it too, so a round published another way still has dates). Returns the rounds written."""
    have = select(RunDeadline.run_pk).distinct()
    missing = list(session.scalars(select(Run).where(Run.status == "published", Run.id.not_in(have))))
    rows = []
    for run in missing:
        published = local_day(run.published_at)
        for code in FINDING_CODES:
            verify, close = default_dates(code=code, published=published, term=run.term, settings=settings)
            rows.append({"run_pk": run.id, "code": code, "verify_due": verify, "close_due": close})
    if rows:  # several requests may write the defaults at once: the first wins, the others change nothing
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(RunDeadline).values(rows).on_conflict_do_nothing(index_elements=["run_pk", "code"]))
    return len(missing)


def _join(stmt: Any) -> Any:
    return stmt.outerjoin(RunDeadline, and_(RunDeadline.run_pk == Case.opened_run_pk, RunDeadline.code == Case.code))


def due_column():  # type: ignore[no-untyped-def]
    """The day a case falls due, as SQL: 核实 while open, 办结 after, none once closed."""
    return case((Case.state.in_(CLOSED_STATES), None), (Case.state == "open", RunDeadline.verify_due),
                else_=RunDeadline.close_due)


def apply_due(stmt: Select[Any], *, due: str | None, sort: str | None, on: date | None = None) -> tuple[Select[Any], bool]:
    """Join the deadlines when the list filters or sorts by them; returns the statement and whether
    it is now ordered by the due date (soonest and most overdue first, closed cases last)."""
    if due not in DUE_FILTERS and sort != "due":
        return stmt, False
    day = on or today()
    stmt = _join(stmt)
    col = due_column()
    if due == "overdue":
        stmt = stmt.where(col < day)
    elif due == "soon":
        stmt = stmt.where(col >= day, col <= day + timedelta(days=SOON_DAYS))
    if sort == "due":
        return stmt.order_by(col.is_(None), col, Case.id), True
    return stmt, False


def dues_for(session: Session, cases: list[Any], *, on: date | None = None) -> dict[int, Due]:
    """The due date of each case that is not closed (one query for the page's rounds and codes)."""
    day = on or today()
    keys = {(c.opened_run_pk, c.code) for c in cases}
    if not keys:
        return {}
    runs = {k[0] for k in keys}
    rows = session.execute(select(RunDeadline.run_pk, RunDeadline.code, RunDeadline.verify_due, RunDeadline.close_due)
                           .where(RunDeadline.run_pk.in_(runs)))
    dates = {(r, c): (v, cl) for r, c, v, cl in rows}
    out: dict[int, Due] = {}
    for c in cases:
        found = dates.get((c.opened_run_pk, c.code))
        if found is None or c.state in CLOSED_STATES:
            continue
        kind = "verify" if c.state == "open" else "close"
        when = found[0] if kind == "verify" else found[1]
        out[c.id] = Due(kind, when, (when - day).days)
    return out


def due_table(session: Session, *, region: str) -> Any:
    """(finding_key, due_date) of the region's cases not yet closed, for the county workbook's 办理期限
    column: "核实 2021-04-01" or "办结 2021-05-01" (the day, not days left: a workbook is kept for weeks)."""
    import pyarrow as pa

    from yidan.store.crud.cases import in_region

    col = due_column()
    kind = case((Case.state == "open", "核实 "), else_="办结 ")
    stmt = _join(select(Case.finding_key, kind, col).where(in_region(region), col.is_not(None))).order_by(Case.id)
    keys, texts = [], []
    for key, label, day in session.execute(stmt):
        keys.append(key)
        texts.append(f"{label}{day.isoformat()}")
    return pa.table({"finding_key": pa.array(keys, pa.string()), "due_date": pa.array(texts, pa.string())})


def table_digest(table: Any) -> str:
    """A short fingerprint of a due table: a cached workbook is reused only while the dates are the same."""
    import hashlib

    h = hashlib.sha256()
    for key, text in zip(table.column("finding_key").to_pylist(), table.column("due_date").to_pylist(), strict=True):
        h.update(f"{key}\t{text}\n".encode())
    return h.hexdigest()[:12]


def _due_groups(region: str, day: date) -> Any:
    """(county, overdue, due within a week) of the region's cases, as SQL: the cases not closed are first
    counted by (county, state, round, code) — an index-only group-by on `ix_cases_dues`, never a read of
    the case rows — and only those few groups are joined to their round's dates."""
    from sqlalchemy import func

    from yidan.store.crud.cases import in_region

    groups = (select(Case.county, Case.state, Case.opened_run_pk, Case.code, func.count().label("n"))
              .where(in_region(region, ranged=True), Case.state.not_in(CLOSED_STATES))
              .group_by(Case.county, Case.state, Case.opened_run_pk, Case.code).subquery())
    col = case((groups.c.state == "open", RunDeadline.verify_due), else_=RunDeadline.close_due)

    def n(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, groups.c.n), else_=0)), 0)

    return (select(groups.c.county, n(col < day), n((col >= day) & (col <= day + timedelta(days=SOON_DAYS))))
            .select_from(groups)
            .outerjoin(RunDeadline, and_(RunDeadline.run_pk == groups.c.opened_run_pk, RunDeadline.code == groups.c.code))
            .group_by(groups.c.county))


@dataclass(frozen=True)
class DueCounts:
    overdue: int
    soon: int
    by_county: list[tuple[str, int]]  # (county, overdue cases), most overdue first; counties with none left out


def due_counts(session: Session, *, region: str, on: date | None = None) -> DueCounts:
    """How many of the region's cases are overdue and how many fall due within a week, and the overdue
    by county (the home page's reminders), in one query over the region's cases only."""
    rows = [(c, int(o), int(s)) for c, o, s in session.execute(_due_groups(region, on or today()))]
    by_county = sorted(((c, o) for c, o, _ in rows if o), key=lambda r: (-r[1], r[0]))
    return DueCounts(sum(o for _, o, _ in rows), sum(s for _, _, s in rows), by_county)


def counts(session: Session, *, region: str, on: date | None = None) -> dict[str, int]:
    """How many of the region's cases are overdue and how many fall due within a week (the home page)."""
    d = due_counts(session, region=region, on=on)
    return {"overdue": d.overdue, "soon": d.soon}


def overdue_by_county(session: Session, *, region: str, on: date | None = None) -> list[tuple[str, int]]:
    """(county, overdue cases) inside a city or province, most overdue first (counties with none left out)."""
    return due_counts(session, region=region, on=on).by_county
