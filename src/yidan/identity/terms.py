"""School terms: 2020秋 (autumn, 1 Sep 2020 - 31 Jan 2021) and 2021春 (spring, 1 Feb - 31 Jul 2021).

The term 2021春 belongs to the school year 2020-2021, so ages for it are taken on
31 August 2020 (the configured reference day of the school year's first year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import total_ordering
from typing import Any

from yidan.errors import InputError

_SHORT = re.compile(r"^\s*(\d{4})\s*年?\s*(秋|春)季?(学期)?\s*$")
_LONG = re.compile(r"^\s*(\d{4})\s*[-—–~至]\s*(\d{4})\s*学年\s*第\s*(一|二|1|2)\s*学期\s*$")


@total_ordering
@dataclass(frozen=True)
class Term:
    """A term, ordered in time. `year` is the calendar year the term starts in."""

    year: int
    season: str  # "秋" or "春"

    def __post_init__(self) -> None:
        if self.season not in ("秋", "春"):
            raise ValueError(self.season)

    @property
    def ordinal(self) -> int:
        """Monotone index: 2020春 < 2020秋 < 2021春."""
        return self.year * 2 + (1 if self.season == "秋" else 0)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Term):
            return NotImplemented
        return self.ordinal < other.ordinal

    @property
    def label(self) -> str:
        return f"{self.year}{self.season}"

    def __str__(self) -> str:
        return self.label

    @property
    def school_year_start(self) -> int:
        """First calendar year of the school year this term belongs to."""
        return self.year if self.season == "秋" else self.year - 1

    def start(self, autumn_start: str = "09-01", spring_start: str = "02-01") -> date:
        mm, dd = (autumn_start if self.season == "秋" else spring_start).split("-")
        return date(self.year, int(mm), int(dd))

    def end(self) -> date:
        return date(self.year + 1, 1, 31) if self.season == "秋" else date(self.year, 7, 31)

    def age_reference(self, month: int = 8, day: int = 31) -> date:
        return date(self.school_year_start, month, day)

    def next(self) -> Term:
        return Term(self.year, "秋") if self.season == "春" else Term(self.year + 1, "春")

    def previous(self) -> Term:
        return Term(self.year - 1, "秋") if self.season == "春" else Term(self.year, "春")


def term_ordinal(label: Any) -> Any:
    """`Term.ordinal` in the engine: an Ibis string expression of canonical labels ('2020秋' -> 4041) to an
    integer expression (null stays null). The one engine-side copy of the term order (classify, audit,
    linkage use it)."""
    year = label.substr(0, 4).cast("int64")
    return year * 2 + (label.substr(4, 1) == "秋").cast("int64")


_FEW_LABELS = 16
_CANONICAL = re.compile("[0-9]{4}[春秋]")


def term_ordinal_among(label: Any, labels: list[str] | None) -> Any:
    """`term_ordinal(label)`, as a CASE over `labels` when those are the column's few distinct values,
    all canonical (an enrollment snapshot holds a handful of terms): the same numbers without
    parsing the text of every row (measured: `students` −20 % CPU). Null where `label` is
    null; otherwise `term_ordinal`."""
    if labels is None or len(labels) > _FEW_LABELS or not all(_CANONICAL.fullmatch(t) for t in labels):
        return term_ordinal(label)
    import ibis

    return label.substitute({t: int(t[:4]) * 2 + (t[4] == "秋") for t in labels}, else_=ibis.null("int64"))


def distinct_terms(table: Any, column: str = "term") -> list[str]:
    """The distinct non-null values of a term column (fetched: a handful)."""
    values = table.select(column).distinct().to_pyarrow().column(column).to_pylist()
    return sorted(v for v in values if v is not None)


def parse_term(text: str) -> Term:
    """Parse 2021春, 2020秋季学期, 2020-2021学年第一学期 (= 2020秋), 第二学期 (= 2021春)."""
    value = str(text).strip().replace("　", "")
    m = _SHORT.match(value)
    if m:
        return Term(int(m.group(1)), m.group(2))
    m = _LONG.match(value)
    if m:
        first, second, which = int(m.group(1)), int(m.group(2)), m.group(3)
        if second != first + 1:
            raise InputError(f"学年写法有误：{text}", hint="学年应为相邻两年，如 2020-2021学年第一学期。")
        return Term(first, "秋") if which in ("一", "1") else Term(second, "春")
    raise InputError(f"无法识别的学期：{text}", hint="学期写作 2020秋、2021春 或 2020-2021学年第一学期。")


def term_range(spec: str) -> list[Term]:
    """'2019秋..2021春' -> [2019秋, 2020春, 2020秋, 2021春]; a single term -> [term]."""
    if ".." not in spec:
        return [parse_term(spec)]
    lo_s, hi_s = spec.split("..", 1)
    lo, hi = parse_term(lo_s), parse_term(hi_s)
    if hi < lo:
        raise InputError(f"学期范围起止颠倒：{spec}", hint="写作 较早学期..较晚学期，如 2019秋..2021春。")
    out, t = [], lo
    while t.ordinal <= hi.ordinal:
        out.append(t)
        t = t.next()
    return out
