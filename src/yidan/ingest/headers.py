"""Matching a file's header row to the contract, before any data row is read.

Headers are compared after NFKC folding (full-width letters, digits and spaces become ASCII) and
removing all whitespace; each column answers to its Chinese header or its English alias (any
case). Extra columns are kept out of the rules and reported; a misspelt one gets a "did you
mean" from difflib. Every missing required column is named in one message, so a user fixes the
file once, not once per column.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from yidan.contract import Column, Table
from yidan.errors import InputError

_SPACE = re.compile(r"\s+")
HEADER_SCAN_ROWS = 30  # title and note rows above the header: look this far down


def normalize_header(text: object) -> str:
    if text is None:
        return ""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text))).lower()


def _keys(col: Column) -> tuple[str, str]:
    return normalize_header(col.header), normalize_header(col.alias)


@dataclass
class HeaderMatch:
    """Which source column (by position) feeds which contract column, and what was left over."""

    positions: dict[str, int]  # alias -> 0-based position in the header row
    extras: list[str] = field(default_factory=list)  # headers kept out of the rules
    notes: list[str] = field(default_factory=list)  # did-you-mean for extras close to an absent column


def count_known(table: Table, cells: Sequence[object]) -> int:
    """How many cells of a row are headers of `table` (used to find the header row)."""
    known = {k for col in table.columns for k in _keys(col)}
    return sum(1 for c in cells if normalize_header(c) in known)


def find_header_row(table: Table, rows: Sequence[Sequence[object]]) -> int | None:
    """0-based index of the header row among the first rows: the first one with the most known headers.

    A row needs at least two known headers (one cell of text is more likely a title).
    """
    best, best_n = None, 1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        n = count_known(table, row)
        if n > best_n:
            best, best_n = i, n
    return best


def _suggest(word: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return close[0] if close else None


def match_headers(table: Table, headers: Sequence[object], *, where: str) -> HeaderMatch:
    """Map a header row onto the contract; raise InputError for duplicates or missing required columns."""
    by_key: dict[str, Column] = {}
    for column in table.columns:
        for k in _keys(column):
            by_key[k] = column
    positions: dict[str, int] = {}
    seen_extra: dict[str, int] = {}
    extras: list[str] = []
    duplicates: list[str] = []
    for i, raw in enumerate(headers):
        key = normalize_header(raw)
        if not key:
            continue
        col = by_key.get(key)
        if col is None:
            if key in seen_extra:
                continue  # a repeated extra column: ignored like the first one
            seen_extra[key] = i
            extras.append(str(raw).strip())
            continue
        if col.alias in positions:
            duplicates.append(f"「{col.header}」（第 {positions[col.alias] + 1} 列和第 {i + 1} 列）")
            continue
        positions[col.alias] = i
    if duplicates:
        raise InputError(
            f"{where} 的表头有重复的列：{'、'.join(duplicates)}。",
            hint="每一列只能出现一次（中文列名和英文别名算同一列）；删除或改名重复的列后重试。",
        )
    absent = [c for c in table.columns if c.alias not in positions]
    notes: list[str] = []
    # a misspelt header is compared with the Chinese header and the English alias of every absent column
    names = {k: c for c in absent for k in _keys(c)}
    suggestions: dict[str, str] = {}
    for extra in extras:
        guess = _suggest(normalize_header(extra), list(names))
        if guess is not None:
            col = names[guess]
            suggestions.setdefault(col.header, extra)
            notes.append(f"未识别的列「{extra}」已忽略，是否想写「{col.header}」（{col.alias}）？")
    missing = [c for c in absent if c.required]
    if missing:
        parts = []
        for col in missing:
            guess = suggestions.get(col.header)
            parts.append(f"「{col.header}」" + (f"（文件中的「{guess}」是否就是它？）" if guess else ""))
        found = "、".join(str(h).strip() for h in headers if normalize_header(h)) or "（空）"
        raise InputError(
            f"{where} 缺少{table.label}表的必填列：{'、'.join(parts)}。文件中的列：{found}。",
            hint=f"请按模板（yidan template）补齐或改正列名；列名可用中文或英文别名，如「{missing[0].header}」"
            f"或「{missing[0].alias}」。",
        )
    return HeaderMatch(positions=positions, extras=extras, notes=notes)
