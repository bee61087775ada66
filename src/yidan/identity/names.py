"""Chinese names: normalisation and the per-character reading table.

Registries write the same name in different ways: full-width letters, traditional
characters (張 / 张), a middle dot in minority names typed as ・ • ‧ or ．, stray
spaces. `normalise_name` is the reference for one name. At scale the engine applies
the same mapping with one `translate` expression built from the *distinct*
characters (`translation_for`), so Python only ever loops over characters, never rows.

Readings (pinyin) decide homophones (同音字: 张伟 / 章伟). Plain readings get many
surnames wrong (曾 is zeng as a surname, not ceng; 单 is shan, 解 xie, 仇 qiu, 区 ou),
so every character carries *all* its readings (pypinyin heteronyms) and the surname
position has its own override table. `reading_rows` returns that small table; the
engine joins it to the characters of each name (see `yidan.pipeline.link.prepare`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import pyarrow as pa
from opencc import OpenCC
from pypinyin import Style, lazy_pinyin, pinyin

MIDDLE_DOT = "\u00b7"
# Every dot people type between the parts of a minority name (艾力·买买提).
DOT_VARIANTS = "\u00b7\u2022\u2027\u30fb\uff65\u2219\u22c5\u0387\u16eb\u2e31\ufe52\uff0e\u02d1\u318d\u2024."
# Characters that carry no part of a name: spaces of every width, zero-width marks.
DROPPED = " \t\r\n\u00a0\u3000\u200b\u200c\u200d\ufeff"

# Readings of a character used as a surname, where they differ from its usual reading.
# The first reading is the one a registrar would type; the rest stay acceptable.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng",),
    "单": ("shan",),
    "解": ("xie",),
    "仇": ("qiu",),
    "区": ("ou",),
    "查": ("zha",),
    "朴": ("piao",),
    "尉": ("yu", "wei"),
    "盖": ("ge", "gai"),
    "缪": ("miao",),
    "覃": ("qin", "tan"),
    "翟": ("zhai",),
    "乐": ("yue", "le"),
    "秘": ("bi",),
    "种": ("chong",),
    "繁": ("po",),
    "员": ("yun",),
    "长": ("chang",),
    "沈": ("shen",),
    "任": ("ren",),
    "华": ("hua",),
    "纪": ("ji",),
    "过": ("guo",),
    "宁": ("ning",),
    "车": ("che",),
    "黑": ("he",),
    "折": ("she",),
    "相": ("xiang",),
    "召": ("shao",),
    "燕": ("yan",),
    "葛": ("ge",),
    "隗": ("wei",),
    "万": ("wan",),
    "句": ("gou",),
    "能": ("nai",),
    "蕃": ("pi",),
}


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def normalise_char(ch: str) -> str:
    """The normalised form of one character ('' when it carries nothing)."""
    if ch in DROPPED:
        return ""
    if ch in DOT_VARIANTS:
        return MIDDLE_DOT
    text = unicodedata.normalize("NFKC", ch)
    text = "".join(MIDDLE_DOT if c in DOT_VARIANTS else c for c in text if c not in DROPPED)
    return _t2s().convert(text).upper()


def normalise_name(name: str | None) -> str | None:
    """NFKC, traditional → simplified, one middle dot, no spaces; None stays None.

    >>> normalise_name(" 張 偉 ")
    '张伟'
    >>> normalise_name("艾力・买买提")
    '艾力·买买提'
    """
    if name is None:
        return None
    out = "".join(normalise_char(c) for c in name)
    return out or None


def translation_for(chars: Iterable[str]) -> tuple[str, str]:
    """`(from, to)` for a SQL `translate` that normalises names made of `chars`.

    Characters whose normal form is one other character are mapped; those that
    vanish (spaces) come last in `from`, past the end of `to`, which `translate`
    deletes on DuckDB and Spark alike. The rare character whose NFKC form is several
    characters (㈱) is left as it is: a name never needs it.
    """
    mapped: list[tuple[str, str]] = []
    dropped: list[str] = []
    for ch in sorted(set(chars)):
        if len(ch) != 1:
            continue
        norm = normalise_char(ch)
        if norm == "":
            dropped.append(ch)
        elif len(norm) == 1 and norm != ch:
            mapped.append((ch, norm))
    src = "".join(c for c, _ in mapped) + "".join(dropped)
    dst = "".join(n for _, n in mapped)
    return src, dst


def normalised_chars(chars: Iterable[str]) -> set[str]:
    """The characters names made of `chars` consist of once normalised (`translation_for` applied)."""
    src, dst = translation_for(chars)
    mapping = dict(zip(src, dst, strict=False))
    out = set()
    for ch in chars:
        if len(ch) != 1 or ch in src[len(dst):]:
            continue
        out.add(mapping.get(ch, ch))
    return out


def readings(ch: str, *, surname: bool = False) -> list[str]:
    """All toneless readings of a character, the usual (or surname) reading first."""
    usual = lazy_pinyin(ch, style=Style.NORMAL)[0].lower()
    every = [r.lower() for r in pinyin(ch, style=Style.NORMAL, heteronym=True)[0]]
    first = list(SURNAME_READINGS.get(ch, ())) if surname else []
    out: list[str] = []
    for r in [*first, usual, *every]:
        if r and r not in out:
            out.append(r)
    return out


def primary_readings(chars: Iterable[str]) -> pa.Table:
    """One row per character: `ch`, `surname_reading` and `reading` (the primary ones, as in `reading_rows`).

    Joined to a name's first, second and last character it gives, without splitting the
    name into rows, a key that two names with the same reading key always share (the
    linkage's cheap pre-filter).
    """
    rows = sorted({c for c in chars if len(c) == 1})
    sur = [next(iter(readings(c, surname=True)), None) for c in rows]
    usual = [next(iter(readings(c)), None) for c in rows]
    return pa.table({"ch": pa.array(rows, pa.string()), "surname_reading": pa.array(sur, pa.string()),
                     "reading": pa.array(usual, pa.string())})


def reading_rows(chars: Iterable[str]) -> pa.Table:
    """One row per (character, surname position?, reading): the table the engine joins.

    Columns: `ch`, `surname` (True: the readings for the first character of a name),
    `reading`, `primary` (True for the one reading used to build a name's reading key).
    """
    ch_col: list[str] = []
    sur_col: list[bool] = []
    reading_col: list[str] = []
    primary_col: list[bool] = []
    for ch in sorted(set(chars)):
        for surname in (False, True):
            for i, r in enumerate(readings(ch, surname=surname)):
                ch_col.append(ch)
                sur_col.append(surname)
                reading_col.append(r)
                primary_col.append(i == 0)
    return pa.table(
        {
            "ch": pa.array(ch_col, pa.string()),
            "surname": pa.array(sur_col, pa.bool_()),
            "reading": pa.array(reading_col, pa.string()),
            "primary": pa.array(primary_col, pa.bool_()),
        }
    )
