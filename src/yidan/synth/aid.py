"""The example aid catalog and who, by the generator's own knowledge, was entitled to what.

Entitlement is judged like the rules say (DOMAIN.md): on the term's first day the child is
registered (recognised on or before it, not removed on or before it), enrolled 在读 in that term
with the programme's stage and boarding condition (or out of province with a stage, for 不限
programmes only), of a targeted category, and the programme is valid that term. Payments are
then written for every entitlement, by the responsible county, unless a case says otherwise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from yidan.contract.codes import STAGES, TARGET_CATEGORIES
from yidan.identity.terms import Term, parse_term

RUN_TERM = parse_term("2021春")
AUDIT_TERMS = (parse_term("2020秋"), parse_term("2021春"))


@dataclass(frozen=True)
class Programme:
    code: str
    name: str
    stages: frozenset[int]  # indices into STAGES
    boarding_rule: str  # 寄宿 / 非寄宿 / 不限
    categories: frozenset[int]  # indices into TARGET_CATEGORIES (the registry's CATEGORIES first)
    amount: float  # the standard; a graded programme's lowest grade
    first: Term
    last: Term | None
    grades: tuple[tuple[str, float], ...] = ()  # (档次, amount) in catalog order; () = not graded
    region: tuple[str, ...] = ()  # province / city / county code prefixes; () = the whole province
    window: int | None = None  # days from the term's first day to pay in

    def valid_in(self, term: Term) -> bool:
        return self.first <= term and (self.last is None or term <= self.last)

    def in_region(self, county: np.ndarray) -> np.ndarray:
        """Which six-digit county codes the programme reaches."""
        if not self.region:
            return np.ones(len(county), dtype=bool)
        return np.any([county // 10 ** (6 - len(r)) == int(r) for r in self.region], axis=0)


def policies_text() -> str:
    return resources.files("yidan").joinpath("data/policies_example.csv").read_text(encoding="utf-8")


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace(",", "、").replace("，", "、").split("、") if p.strip()]


@cache
def catalog() -> tuple[Programme, ...]:
    """One Programme per code: a graded programme's rows (one per 档次) become its grades."""
    rows = list(csv.DictReader(policies_text().splitlines()))
    by_code: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_code.setdefault(r["项目代码"], []).append(r)
    out = []
    for code, mine in by_code.items():
        r = mine[0]
        grades = tuple((g["档次"], float(g["每学期标准"])) for g in mine if g.get("档次"))
        out.append(Programme(
            code=code, name=r["项目名称"],
            stages=frozenset(STAGES.index(s) for s in _split(r["适用学段"])),
            boarding_rule=r["寄宿要求"],
            categories=frozenset(TARGET_CATEGORIES.index(c) for c in _split(r["资助对象"])),
            amount=min(float(g["每学期标准"]) for g in mine), first=parse_term(r["起始学期"]),
            last=parse_term(r["截止学期"]) if r["截止学期"] else None,
            grades=grades, region=tuple(_split(r.get("适用地区") or "")),
            window=int(r["发放时限天数"]) if r.get("发放时限天数") else None,
        ))
    return tuple(out)


def grade_of(programme: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The grade index a child is paid under (graded programmes: by the child's row; else 0)."""
    n = np.array([max(1, len(p.grades)) for p in catalog()], dtype=np.int64)[programme]
    return person % n


def grade_cents(programme: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The standard of each child's grade (ungraded programmes: the standard), in cents."""
    table = np.zeros((len(catalog()), max(max(1, len(p.grades)) for p in catalog())), dtype=np.int64)
    for j, p in enumerate(catalog()):
        amounts = [a for _, a in p.grades] or [p.amount]
        table[j, : len(amounts)] = [round(a * 100) for a in amounts]
    return table[programme, grade_of(programme, person)]


def grade_labels(programme: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The 档次 written on each payment ('' for an ungraded programme)."""
    width = max(max(1, len(p.grades)) for p in catalog())
    table = np.full((len(catalog()), width), "", dtype=object)
    for j, p in enumerate(catalog()):
        for k, (label, _) in enumerate(p.grades):
            table[j, k] = label
    return table[programme, grade_of(programme, person)]


def local_entitled(stage: np.ndarray, boarding: np.ndarray, category: np.ndarray, county: np.ndarray) -> np.ndarray:
    """Children a region-scoped (local) programme may reach, whatever the term and registry dates."""
    hit = np.zeros(len(stage), dtype=bool)
    for prog in catalog():
        if not prog.region:
            continue
        ok = np.isin(stage, list(prog.stages)) & np.isin(category, list(prog.categories)) & prog.in_region(county)
        if prog.boarding_rule == "寄宿":
            ok &= boarding
        elif prog.boarding_rule == "非寄宿":
            ok &= ~boarding
        hit |= ok
    return hit


def programme_index(code: str) -> int:
    return [p.code for p in catalog()].index(code)


def registered_at(recognized: np.ndarray, removed: np.ndarray, day: np.datetime64) -> np.ndarray:
    return (recognized <= day) & (np.isnat(removed) | (removed > day))


@dataclass
class Entitlements:
    """One row per (child, programme, term) the child was entitled to."""

    person: np.ndarray  # registry row index
    programme: np.ndarray  # index into catalog()
    term: np.ndarray  # index into AUDIT_TERMS
    payer: np.ndarray  # six-digit county code that must pay


def entitled(term_idx: int, person: np.ndarray, stage: np.ndarray, boarding: np.ndarray,
             category: np.ndarray, recognized: np.ndarray, removed: np.ndarray, payer: np.ndarray,
             *, out_of_province: bool = False) -> Entitlements:
    """Entitlements in one term of children enrolled (在读) that term: arrays per child."""
    term = AUDIT_TERMS[term_idx]
    ok_reg = registered_at(recognized, removed, np.datetime64(term.start()))
    parts: list[tuple[np.ndarray, int]] = []
    for j, prog in enumerate(catalog()):  # a handful of programmes
        if not prog.valid_in(term):
            continue
        if out_of_province and prog.boarding_rule != "不限":
            continue
        ok = ok_reg & np.isin(stage, list(prog.stages)) & np.isin(category, list(prog.categories))
        ok &= prog.in_region(payer)
        if prog.boarding_rule == "寄宿":
            ok &= boarding
        elif prog.boarding_rule == "非寄宿":
            ok &= ~boarding
        parts.append((np.flatnonzero(ok), j))
    idx = np.concatenate([p for p, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
    prog_idx = np.concatenate([np.full(len(p), j) for p, j in parts]) if parts else np.zeros(0, dtype=np.int64)
    return Entitlements(person[idx], prog_idx, np.full(len(idx), term_idx), payer[idx])


def concat(items: list[Entitlements]) -> Entitlements:
    return Entitlements(*(np.concatenate([getattr(e, f) for e in items]).astype(np.int64)
                          for f in ("person", "programme", "term", "payer")))


def main_programme(stage: int, boarding: bool, category: int, term: Term) -> int | None:
    """The programme a child of this kind would be paid under in `term` (for injected payments)."""
    for j, prog in enumerate(catalog()):
        if stage in prog.stages and prog.valid_in(term) and (prog.boarding_rule != "寄宿" or boarding):
            if category in prog.categories:
                return j
    return None
