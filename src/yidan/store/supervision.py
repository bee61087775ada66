"""Supervision figures by region (核实率, 办结率, 超期数 …) for 通报: declared once, computed in SQL.

Each figure is a `Figure` declaration: what its numerator and denominator count, in words shown
beside every value, so a reader can recount it from the case list. `ranking(...)` computes every
figure for each region one level below the user's (counties inside a province or city, townships
inside a county) with a few grouped queries over the cases table; nothing loops over cases in Python.

Definitions (cases of the published rounds inside the region):
* 核实率 — cases no longer 待核实 / all cases.
* 办结率 — cases 已销号 or 数据已销号 / all cases.
* 超期数 — cases not closed whose due date (store/deadlines.py) has passed.
* 劝返成功率 — K02 cases marked 已劝返 whose child has no K02 case in a later round / K02 cases marked 已劝返.
* 再辍学数 — K02 cases of a child who had an earlier-round K02 case marked 已劝返 or closed.
* 漏助补发率 — Z01 cases closed / Z01 cases.
* 追回率 — Z02, Z04, Z05 cases (money paid that should not have been) closed / those cases.
* 办结天数中位数 — median whole days from a case's opening to its 销号 (cases closed by a person).

Beside them: 核实率, 办结率 and 超期数 at the end of the earlier rounds (`supervision_trends`, kept
when the next round is published) with the change since the last one, and, added by the route from
the latest run, the count of disabled children with neither enrollment nor 送教 (`with_unschooled`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from yidan.store import deadlines, supervision_trends
from yidan.store.crud.cases import in_region
from yidan.store.models import CLOSED_STATES, Case, CaseEvent, Run

RECOVERY_CODES = ("Z02", "Z04", "Z05")
CLOSING_EVENTS = ("closed", "closure_confirmed")


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    numerator: str  # what the numerator counts, in words
    denominator: str = ""  # empty: a count, not a rate
    kind: str = "rate"  # rate | count | days


FIGURES: tuple[Figure, ...] = (
    Figure("verify_rate", "核实率", "已核实的案件（状态不是待核实）", "全部案件"),
    Figure("close_rate", "办结率", "已销号和数据已销号的案件", "全部案件"),
    Figure("overdue", "超期数", "未办结且已过期限的案件", kind="count"),
    Figure("return_rate", "劝返成功率", "已劝返且之后各轮未再辍学的辍学案件", "已劝返的辍学（K02）案件"),
    Figure("redropout", "再辍学数", "此前已劝返或销号、后一轮又辍学的辍学案件", kind="count"),
    Figure("aid_rate", "漏助补发率", "已销号的漏助（Z01）案件", "漏助（Z01）案件"),
    Figure("recovery_rate", "追回率", "已销号的重复资助、不符合条件、项目失效发放（Z02、Z04、Z05）案件",
           "Z02、Z04、Z05 案件"),
    Figure("median_days", "办结天数中位数", "从案件开启到人工销号的天数（中位数）", "人工销号的案件", kind="days"),
)


def trend_figures() -> list[Figure]:
    """The figures followed across rounds (supervision_trends.TREND_KEYS), in the ranking's order."""
    return [f for f in FIGURES if f.key in supervision_trends.TREND_KEYS]


@dataclass
class Value:
    numerator: float
    denominator: int | None = None

    @property
    def rate(self) -> float | None:
        if self.denominator is None:
            return None
        return self.numerator / self.denominator if self.denominator else None

    def text(self, kind: str) -> str:
        if kind == "count":
            return str(int(self.numerator))
        if kind == "days":
            return "—" if not self.denominator else f"{self.numerator:g} 天"
        rate = self.rate
        return "—" if rate is None else f"{rate * 100:.1f}%（{int(self.numerator)}/{self.denominator}）"


@dataclass
class Row:
    region: str
    cases: int = 0
    values: dict[str, Value] = field(default_factory=dict)
    # the trend figures (supervision_trends.TREND_KEYS) at the end of each earlier round of
    # `Ranking.rounds`, oldest first; None where the region had no case then
    history: list[dict[str, Value] | None] = field(default_factory=list)
    # disabled children with neither enrollment nor 送教 (store/home_teaching.py); None: no run to count in
    unschooled: int | None = None

    def delta(self, key: str) -> float | None:
        """The change since the last round: percentage points for a rate, a count for 超期数."""
        last = self.history[-1] if self.history else None
        if last is None:
            return None
        now, before = self.values[key], last[key]
        if now.denominator is None:
            return now.numerator - before.numerator
        if now.rate is None or before.rate is None:
            return None
        return round((now.rate - before.rate) * 100, 1)

    def series(self, key: str, rounds: list[supervision_trends.Round]) -> list[tuple[str, float | None]]:
        """(round, rate) for each earlier round and "当前" (a chart's points)."""
        past = [(r.label, h[key].rate if h else None) for r, h in zip(rounds, self.history, strict=True)]
        return [*past, ("当前", self.values[key].rate)]

    def change(self, key: str) -> str:
        """"↑5.0 个百分点", "↓2", "持平", or "—" without an earlier round to compare with."""
        d = self.delta(key)
        if d is None:
            return "—"
        if d == 0:
            return "持平"
        unit = "" if self.values[key].denominator is None else " 个百分点"
        return ("↑" if d > 0 else "↓") + f"{abs(d):g}{unit}"


@dataclass
class Ranking:
    region: str
    child_level: str  # county | township
    as_of: datetime  # UTC
    on: date  # the day overdue is counted on (Beijing)
    runs: list[int]
    rows: list[Row]
    total: Row
    rounds: list[supervision_trends.Round] = field(default_factory=list)  # earlier rounds, oldest first


def _group(region: str):  # type: ignore[no-untyped-def]
    return Case.township if len(region) >= 6 else Case.county


def _days_between(session: Session, later: Any, earlier: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return cast(func.trunc(func.extract("epoch", later - earlier) / 86400), Integer)


def ranking(session: Session, *, region: str, on: date | None = None) -> Ranking:
    """Every figure for each region one level below `region`, and for `region` itself (the last row)."""
    day = on or deadlines.today()
    g = _group(region)
    closed = Case.state.in_(CLOSED_STATES)
    due = deadlines.due_column()
    returned = exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind == "returned")
    # per child, grouped once (hash joins, no per-case subquery): the last round with a K02 case, and the
    # first round whose K02 case was marked 已劝返 or closed
    k02s = aliased(Case)
    k02_returned = exists().where(CaseEvent.case_id == k02s.id, CaseEvent.kind == "returned")
    last_k02 = (select(k02s.person_id.label("pid"), func.max(k02s.opened_run_pk).label("last_run"))
                .where(k02s.code == "K02").group_by(k02s.person_id).subquery())
    first_done = (select(k02s.person_id.label("pid"), func.min(k02s.opened_run_pk).label("first_run"))
                  .where(k02s.code == "K02", k02s.state.in_(CLOSED_STATES) | k02_returned)
                  .group_by(k02s.person_id).subquery())
    again = last_k02.c.last_run > Case.opened_run_pk
    before = first_done.c.first_run < Case.opened_run_pk

    def n(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    k02 = Case.code == "K02"
    stmt = deadlines._join(select(
        g.label("g"), func.count().label("cases"), n(Case.state != "open").label("verified"), n(closed).label("closed"),
        n(due < day).label("overdue"), n(k02 & returned).label("returned"),
        n(k02 & returned & ~func.coalesce(again, False)).label("stayed"), n(k02 & before).label("redropout"),
        n(Case.code == "Z01").label("z01"), n((Case.code == "Z01") & closed).label("z01_closed"),
        n(Case.code.in_(RECOVERY_CODES)).label("rec"), n(Case.code.in_(RECOVERY_CODES) & closed).label("rec_closed"),
    )).outerjoin(last_k02, last_k02.c.pid == Case.person_id).outerjoin(first_done, first_done.c.pid == Case.person_id)
    stmt = stmt.where(in_region(region)).group_by(g)
    sums: dict[str, dict[str, int]] = {}
    for r in session.execute(stmt).mappings():
        sums[r["g"] or "未知"] = {k: int(r[k] or 0) for k in r if k != "g"}
    keys = ("cases", "verified", "closed", "overdue", "returned", "stayed", "redropout", "z01", "z01_closed", "rec",
            "rec_closed")
    whole = {k: sum(s[k] for s in sums.values()) for k in keys}
    medians = _medians(session, region=region, group=g)
    rows = [_row(key, s, medians.get(key, Value(0, 0))) for key, s in sums.items()]
    total = _row(region, whole, medians.get("*", Value(0, 0)))
    runs = list(session.scalars(select(Run.id).where(Run.status == "published", Run.region == region[:2])
                                .order_by(Run.id)))
    ordered = sorted(rows, key=lambda r: (-r.values["overdue"].numerator,
                                                  r.values["close_rate"].rate or 0.0, r.region))
    child_level = "township" if len(region) >= 6 else "county"
    ended = supervision_trends.rounds(session, province=region[:2])
    past = supervision_trends.history(session, region=region, child_level=child_level, ended=ended)
    for row in (*ordered, total):
        mine = past.get("*" if row is total else row.region, {})
        row.history = [_past(mine.get(r.run_pk)) for r in ended]
    return Ranking(region=region, child_level=child_level, as_of=datetime.now(UTC).replace(tzinfo=None), on=day,
                   runs=runs, rows=ordered, total=total, rounds=ended)


def with_unschooled(ranking: Ranking, counts: dict[str, int]) -> Ranking:
    """Each row's count of disabled children with neither enrollment nor 送教 (grouped in DuckDB by
    store/home_teaching.unschooled_counts), and the region's sum."""
    zero = dict.fromkeys(("cases", "verified", "closed", "overdue", "returned", "stayed", "redropout", "z01",
                          "z01_closed", "rec", "rec_closed"), 0)
    known = {row.region for row in ranking.rows}
    for region in sorted(set(counts) - known):  # children in a region without any case still show
        row = _row(region, zero, Value(0, 0))
        row.history = [None] * len(ranking.rounds)
        ranking.rows.append(row)
    for row in ranking.rows:
        row.unschooled = counts.get(row.region, 0)
    ranking.total.unschooled = sum(counts.values())
    return ranking


UNSCHOOLED_LABEL = "残疾儿童未入学未送教"
UNSCHOOLED_DEFINITION = ("义务教育年龄、有残疾标记（建档立卡残疾类别或残联名单）、没有学籍（辍学、休学、免缓学、未升学、"
                         "未匹配学籍）且本学期没有送教上门记录的儿童人数，按户籍地统计，取最近一次已发布的比对")


def _past(counts: dict[str, int] | None) -> dict[str, Value] | None:
    if counts is None:
        return None
    return {"verify_rate": Value(counts["verified"], counts["cases"]),
            "close_rate": Value(counts["closed"], counts["cases"]), "overdue": Value(counts["overdue"])}


def _row(key: str, s: dict[str, int], median: Value) -> Row:
    return Row(key, cases=s["cases"], values={
        "verify_rate": Value(s["verified"], s["cases"]),
        "close_rate": Value(s["closed"], s["cases"]),
        "overdue": Value(s["overdue"]),
        "return_rate": Value(s["stayed"], s["returned"]),
        "redropout": Value(s["redropout"]),
        "aid_rate": Value(s["z01_closed"], s["z01"]),
        "recovery_rate": Value(s["rec_closed"], s["rec"]),
        "median_days": median,
    })


def _medians(session: Session, *, region: str, group: Any) -> dict[str, Value]:
    """Median whole days from opening to 销号, per group and for the whole region ("*"), in SQL."""
    closed_at = (select(CaseEvent.case_id, func.max(CaseEvent.at).label("at"))
                 .where(CaseEvent.kind.in_(CLOSING_EVENTS)).group_by(CaseEvent.case_id).subquery())
    days = _days_between(session, closed_at.c.at, Case.created_at)
    out: dict[str, Value] = {}
    for part in (group, literal("*")):
        base = (select(part.label("g"), days.label("d"),
                       func.row_number().over(partition_by=part, order_by=days).label("rn"),
                       func.count().over(partition_by=part).label("n"))
                .join(closed_at, closed_at.c.case_id == Case.id)
                .where(in_region(region), Case.state == "closed").subquery())
        stmt = (select(base.c.g, func.avg(base.c.d), func.max(base.c.n))
                .where(and_(base.c.rn >= (base.c.n + 1) // 2, base.c.rn <= (base.c.n + 2) // 2)).group_by(base.c.g))
        for g, median, count in session.execute(stmt):
            out[g or "未知"] = Value(float(median), int(count))
    return out
