"""The building blocks of the data contract: a column and a table declaration.

Every input table is declared once (see the sibling modules); the readers, the
XLSX templates, `yidan check` and the generated docs page all read these
declarations, so a column is described in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """How a column's raw text is normalised and validated."""

    TEXT = "text"  # free text, trimmed
    ID_NUMBER = "id_number"  # resident ID: normalised, 15 -> 18, validated
    STUDENT_NO = "student_no"  # "G" + ID or "L" + temporary number
    DATE = "date"  # the date forms real exports use, Excel serials included
    TERM = "term"  # 2020秋 / 2021春 / 2020-2021学年第一学期
    ENUM = "enum"  # one of `allowed`
    ENUM_LIST = "enum_list"  # one or more of `allowed`, separated by 、 or ,
    DIVISION_CODE = "division_code"  # 6 to 12 digits (county / township / village)
    COUNTY_CODE = "county_code"  # exactly 6 digits
    SCHOOL_CODE = "school_code"  # exactly 10 digits
    AMOUNT = "amount"  # yuan with at most two decimals, >= 0
    PHONE = "phone"
    COUNT = "count"  # a whole number >= 0 (pupils, people)
    YEAR = "year"  # a four-digit year (学年 / 年份: the school year's first calendar year)


@dataclass(frozen=True)
class Column:
    header: str  # the Chinese header users see
    alias: str  # the English alias, also the snake_case column name downstream
    kind: Kind = Kind.TEXT
    required: bool = False
    allowed: tuple[str, ...] = ()
    description: str = ""
    # Text columns users mistype most often get an example in the template's note row.
    example: str = ""
    # A date of something that has happened (a birth, a payment): one after the day of the load is
    # refused (the load day, not the term's start: a child born after the term began is real).
    past: bool = False
    # A date the row's own valid ID number supersedes (the registry's birth date): a future date beside
    # a valid ID is not refused but kept, reported as a K08 inconsistency and aged by the ID's date.
    id_supersedes: bool = False

    @property
    def is_coded(self) -> bool:
        return self.kind in (Kind.ENUM, Kind.ENUM_LIST)

    @property
    def is_text_in_excel(self) -> bool:
        """Columns Excel must never turn into numbers (IDs, codes, dates as typed)."""
        return self.kind in (
            Kind.ID_NUMBER,
            Kind.STUDENT_NO,
            Kind.DIVISION_CODE,
            Kind.COUNTY_CODE,
            Kind.SCHOOL_CODE,
            Kind.PHONE,
            Kind.TERM,
        )


@dataclass(frozen=True)
class Table:
    name: str  # registry, enrollment, ...
    label: str  # 建档立卡人口 ...
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    def column(self, alias: str) -> Column:
        for col in self.columns:
            if col.alias == alias:
                return col
        raise KeyError(alias)

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(c.alias for c in self.columns)
