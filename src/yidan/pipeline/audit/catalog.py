"""The policy catalog as the audit reads it: per programme and audited term, in force that term.

The catalog is a handful of rows (a programme per row, or per 档次 and per dated change), so it
is read once into Python, checked, and handed to the engine as three small tables:

- `by_term`: per programme and audited term its conditions (学段, 寄宿, 对象, 地区, 发放原则),
  the lowest grade's standard, the grades in words, the funding split, the approved share and the
  payment deadline (the term's first day plus the window);
- `grades`: per programme, term and 档次 its amount (graded programmes only);
- `spans`: per programme its name and first and last term (for "not valid that term" wording).

A catalog the audit cannot read unambiguously (two rows of one programme and grade covering the
same term, a grade beside an ungraded row, conditions that differ between grades, a malformed
region or window, shares above 100 %) stops the run with a Chinese message naming the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa

from yidan.errors import InputError
from yidan.identity.terms import Term, parse_term

MONEY = pa.decimal128(14, 2)
_CONDITIONS = ("stages", "boarding_rule", "target_categories", "payer_rule", "region")
_REGION = re.compile(r"[0-9]{2}|[0-9]{4}|[0-9]{6}")
_SPLIT = re.compile(r"[、,，;；/\s]+")

BY_TERM = pa.schema({
    "programme_code": pa.string(), "term": pa.string(), "programme_name": pa.string(),
    "stages": pa.list_(pa.string()), "boarding_rule": pa.string(), "target_categories": pa.list_(pa.string()),
    "payer_rule": pa.string(), "region": pa.list_(pa.string()), "region_text": pa.string(),
    "amount_per_term": MONEY, "graded": pa.bool_(), "low_grade": pa.string(), "grades_text": pa.string(),
    # percentages as exact text ('12.50'): a null decimal in an in-memory table fails on Spark (Ibis
    # 10); the engine casts them back to DECIMAL where it computes
    "share_central": pa.string(), "share_province": pa.string(), "approved_share": pa.string(),
    "pay_deadline": pa.date32(),
})
GRADES = pa.schema({"programme_code": pa.string(), "term": pa.string(), "grade": pa.string(),
                    "grade_amount": MONEY})
SPANS = pa.schema({"programme_code": pa.string(), "span_name": pa.string(), "first_term": pa.string(),
                   "last_term": pa.string()})


@dataclass(frozen=True)
class Catalog:
    by_term: Any
    grades: Any
    spans: Any


def _row_label(r: dict[str, Any]) -> str:
    where = f"{r.get('_file') or '资助项目表'} 第 {r.get('_row')} 行" if r.get("_row") else "资助项目表"
    return f"{where}（{r['programme_code']}{' ' + r['grade'] if r.get('grade') else ''}）"


def _region(r: dict[str, Any]) -> list[str] | None:
    text = (r.get("region") or "").strip()
    if not text:
        return None
    parts = [p for p in _SPLIT.split(text) if p]
    bad = [p for p in parts if not _REGION.fullmatch(p)]
    if bad:
        raise InputError(f"{_row_label(r)} 的适用地区「{'、'.join(bad)}」不是区划代码",
                         hint="写省(2位)、市(4位)或县(6位)区划代码，以、分隔，如 430124、430181；全省适用则留空")
    return sorted(set(parts))


def _window(r: dict[str, Any]) -> int | None:
    text = (r.get("pay_within_days") or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) == 0:
        raise InputError(f"{_row_label(r)} 的发放时限天数「{text}」不是正整数",
                         hint="写自学期首日起的天数，如 120；不设时限则留空")
    return int(text)


def _check_shares(r: dict[str, Any]) -> None:
    c, p = r.get("share_central"), r.get("share_province")
    if (c or 0) + (p or 0) > 100:
        raise InputError(f"{_row_label(r)} 的中央与省级分担比例合计 {(c or 0) + (p or 0)}% 超过 100%",
                         hint="分担比例写百分数（如 中央 80、省级 10），市县分担为其余部分")
    a = r.get("approved_share")
    if a is not None and not 0 < a <= 100:
        raise InputError(f"{_row_label(r)} 的核定比例 {a}% 应在 0 到 100 之间", hint="如 30 表示 30%")


def _valid(r: dict[str, Any], term: Term) -> bool:
    first = parse_term(r["first_term"])
    return first <= term and (not r.get("last_term") or term <= parse_term(r["last_term"]))


def read(ctx: Any, terms: list[Term]) -> Catalog:
    """The catalog in force in each audited term (see the module docstring)."""
    pol = ctx.get("policies")
    wanted = [c for c in ("programme_code", "programme_name", "stages", "boarding_rule", "target_categories",
                          "amount_per_term", "first_term", "last_term", "payer_rule", "grade", "region",
                          "share_central", "share_province", "approved_share", "pay_within_days", "_file", "_row")
              if c in pol.columns]
    rows = pol.select(*wanted).to_pyarrow().to_pylist()
    for r in rows:
        r.setdefault("payer_rule", None)
        r["payer_rule"] = r["payer_rule"] or "学籍地"
        r["grade"] = (r.get("grade") or "").strip() or None
        r["stages"] = sorted(r.get("stages") or [])
        r["target_categories"] = sorted(r.get("target_categories") or [])
        r["region"] = _region(r)
        r["window"] = _window(r)
        _check_shares(r)
    cfg = ctx.config
    by_term: list[dict[str, Any]] = []
    grades: list[dict[str, Any]] = []
    codes = sorted({r["programme_code"] for r in rows})
    for code in codes:
        mine = [r for r in rows if r["programme_code"] == code]
        graded = {r["grade"] is not None for r in mine}
        if len(graded) > 1:
            raise InputError(f"资助项目 {code} 既有分档行又有不分档的行：{'；'.join(_row_label(r) for r in mine)}",
                             hint="分档项目每一行都填写档次；不分档的项目档次列留空")
        for term in terms:
            now = [r for r in mine if _valid(r, term)]
            if not now:
                continue
            seen: dict[str | None, dict[str, Any]] = {}
            for r in now:
                if r["grade"] in seen:
                    raise InputError(
                        f"资助项目 {code} 在 {term.label} 有两行同时有效：{_row_label(seen[r['grade']])} 与 {_row_label(r)}",
                        hint="标准调整时在旧行填写截止学期，新行从调整后的学期起；分档项目每档一行")
                seen[r["grade"]] = r
            first = now[0]
            for r in now[1:]:
                differs = [c for c in _CONDITIONS if r[c] != first[c]]
                if differs:
                    raise InputError(f"资助项目 {code} 在 {term.label} 各档的条件不一致（{'、'.join(differs)}）："
                                     f"{_row_label(first)} 与 {_row_label(r)}",
                                     hint="同一项目各档的学段、寄宿要求、资助对象、适用地区和发放原则应相同")
            low = min(now, key=lambda r: (r["amount_per_term"], r["grade"] or ""))
            start = term.start(cfg.autumn_start, cfg.spring_start)
            by_term.append({
                "programme_code": code, "term": term.label, "programme_name": first["programme_name"],
                "stages": first["stages"], "boarding_rule": first["boarding_rule"],
                "target_categories": first["target_categories"], "payer_rule": first["payer_rule"],
                "region": first["region"], "region_text": "、".join(first["region"]) if first["region"] else None,
                "amount_per_term": low["amount_per_term"], "graded": low["grade"] is not None,
                "low_grade": low["grade"],
                "grades_text": "、".join(f"{r['grade']} {r['amount_per_term']:.2f} 元"
                                        for r in sorted(now, key=lambda r: -r["amount_per_term"]))
                if low["grade"] is not None else None,
                "share_central": _percent(first.get("share_central")),
                "share_province": _percent(first.get("share_province")),
                "approved_share": _percent(first.get("approved_share")),
                "pay_deadline": start + timedelta(days=first["window"]) if first["window"] else None,
            })
            grades += [{"programme_code": code, "term": term.label, "grade": r["grade"],
                        "grade_amount": r["amount_per_term"]} for r in now if r["grade"] is not None]
    spans = [{"programme_code": code,
              "span_name": min(r["programme_name"] for r in rows if r["programme_code"] == code),
              "first_term": min((r["first_term"] for r in rows if r["programme_code"] == code),
                                key=parse_term),
              "last_term": None if any(not r.get("last_term") for r in rows if r["programme_code"] == code)
              else max((r["last_term"] for r in rows if r["programme_code"] == code), key=parse_term)}
             for code in codes]
    return Catalog(_memtable(by_term, BY_TERM), _memtable(grades, GRADES), _memtable(spans, SPANS))


def _percent(v: Any) -> str | None:
    return None if v is None else f"{Decimal(str(v)):.2f}"


def _memtable(rows: list[dict[str, Any]], schema: pa.Schema) -> Any:
    cols = {f.name: pa.array([_cell(r.get(f.name), f.type) for r in rows], type=f.type) for f in schema}
    return ibis.memtable(pa.table(cols, schema=schema))


def _cell(v: Any, t: pa.DataType) -> Any:
    if v is not None and t == MONEY:
        return Decimal(str(v)).quantize(Decimal("0.01"))
    return v
