"""Aid payments (资助发放) for both audit terms, and the aid findings the injected cases cause.

Every entitlement is paid once, the standard amount, by the responsible county. The aid cases
then change exactly one payment of their child (drop it, double it, move it to another county,
change the amount, split it in two, pay it after the window) or add one the child was not
entitled to; each change records the finding it causes, which is the ground truth for Z01–Z06
and Z08. Z07 comes from children enrolled out of province whom nobody verified; a Z02 also from
children aided in the province they study in and paid at home as well. A graded programme pays
each child its grade (by the child's row) and writes the grade on the payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from yidan.synth.aid import AUDIT_TERMS, Entitlements, catalog, grade_cents, main_programme, programme_index


@dataclass
class Payments:
    person: list[np.ndarray] = field(default_factory=list)
    programme: list[np.ndarray] = field(default_factory=list)
    term: list[np.ndarray] = field(default_factory=list)
    cents: list[np.ndarray] = field(default_factory=list)
    payer: list[np.ndarray] = field(default_factory=list)
    late: list[np.ndarray] = field(default_factory=list)  # 1: paid after the programme's window

    def add(self, person: np.ndarray, programme: object, term: object, cents: object, payer: object,
            late: object = 0) -> None:
        n = len(person)
        for name, v in (("person", person), ("programme", programme), ("term", term), ("cents", cents),
                        ("payer", payer), ("late", late)):
            getattr(self, name).append(np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy())

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(getattr(self, k)) if getattr(self, k) else np.zeros(0, np.int64)
                for k in ("person", "programme", "term", "cents", "payer", "late")}


@dataclass
class AidFindings:
    rows: list[dict] = field(default_factory=list)

    def add(self, code: str, person: np.ndarray, term: np.ndarray, programme: np.ndarray, county: np.ndarray,
            expected: np.ndarray, paid: np.ndarray, *, payee_ids: list[str] | None = None,
            case: str | None = None) -> None:
        """Findings per registry row; or, with `payee_ids` and `case`, per payee outside the registry."""
        for i, (p, t, g, c, e, a) in enumerate(zip(person, term, programme, county, expected, paid, strict=True)):
            row = {"code": code, "person": int(p), "term": AUDIT_TERMS[int(t)].label,
                   "programme_code": catalog()[int(g)].code, "county": str(int(c)),
                   "amount_expected": int(e), "amount_paid": int(a)}
            if payee_ids is not None:
                row.update(payee_id=payee_ids[i], case=case)
            self.rows.append(row)


def standard_cents(programme: np.ndarray) -> np.ndarray:
    """The standard in cents; a graded programme's lowest grade (what an unpaid child is owed at least)."""
    amounts = np.array([round(p.amount * 100) for p in catalog()], dtype=np.int64)
    return amounts[programme]


def first_of(ent: Entitlements, persons: np.ndarray, term: int) -> np.ndarray:
    """Index of each listed person's first entitlement in `term` (persons without one are skipped)."""
    cand = np.flatnonzero(np.isin(ent.person, persons) & (ent.term == term))
    _, first = np.unique(ent.person[cand], return_index=True)
    return cand[first]


def build(ent: Entitlements, unverified: Entitlements, aided_home: Entitlements, cases: dict[str, np.ndarray],
          other_county: np.ndarray,
          school_county: dict[int, np.ndarray], stage: np.ndarray, boarding: np.ndarray,
          category: np.ndarray) -> tuple[dict[str, np.ndarray], AidFindings]:
    """Payments for every entitlement, changed by the aid cases; and the findings they cause.

    `cases[tag]` lists the registry rows of each aid case; `school_county[t]` maps registry row to
    the county code of its 在读 school in term t (0 where none); `other_county[row]` is a real
    county code other than the child's school county.
    """
    pay, found = Payments(), AidFindings()
    std = grade_cents(ent.programme, ent.person)  # the child's grade (graded programmes)
    keep = np.ones(len(ent.person), dtype=bool)
    amount = std.copy()
    payer = ent.payer.copy()
    late = np.zeros(len(ent.person), dtype=np.int64)

    for tag, term in (("aid_missed_2021", 1), ("aid_missed_2020", 0)):
        i = first_of(ent, cases[tag], term)
        keep[i] = False
        low = standard_cents(ent.programme[i])  # unpaid: owed the lowest grade
        found.add("Z01", ent.person[i], ent.term[i], ent.programme[i], ent.payer[i], low, 0 * low)
    i = first_of(ent, cases["aid_duplicate"], 1)
    pay.add(ent.person[i], ent.programme[i], ent.term[i], std[i], ent.payer[i])
    found.add("Z02", ent.person[i], ent.term[i], ent.programme[i], ent.payer[i], std[i], 2 * std[i])
    i = first_of(ent, cases["aid_wrong_county"], 1)
    payer[i] = other_county[ent.person[i]]
    found.add("Z03", ent.person[i], ent.term[i], ent.programme[i], ent.payer[i], std[i], std[i])
    # and the county that paid instead must recover it (Z10, linked to the Z03)
    found.add("Z10", ent.person[i], ent.term[i], ent.programme[i], payer[i], 0 * std[i], std[i])
    i = first_of(ent, cases["aid_wrong_amount"], 1)
    amount[i] = std[i] - 10000
    found.add("Z06", ent.person[i], ent.term[i], ent.programme[i], ent.payer[i], std[i], amount[i])
    i = first_of(ent, cases["aid_split"], 1)
    part = (std[i] * 2 // 5) // 100 * 100
    amount[i] = part
    pay.add(ent.person[i], ent.programme[i], ent.term[i], std[i] - part, ent.payer[i])

    # paid after the programme's payment window (only programmes with one): Z08, county the payer
    windowed = np.array([p.window is not None for p in catalog()])[ent.programme]
    cand = np.flatnonzero(np.isin(ent.person, cases["aid_late"]) & (ent.term == 1) & windowed)
    i = cand[np.unique(ent.person[cand], return_index=True)[1]]
    late[i] = 1
    found.add("Z08", ent.person[i], ent.term[i], ent.programme[i], ent.payer[i], std[i], std[i])

    pay.add(ent.person[keep], ent.programme[keep], ent.term[keep], amount[keep], payer[keep], late[keep])

    # payments to children not entitled: Z04 (county: the payer), or Z05 for an expired programme
    spring = school_county[1]
    added: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    added.append(("Z04", "aid_not_boarding", cases["aid_not_boarding"],
                  np.full(len(cases["aid_not_boarding"]), programme_index("YW-JS-SHBZ-XX"))))
    added.append(("Z04", "aid_category_not_targeted", cases["aid_category_not_targeted"],
                  np.full(len(cases["aid_category_not_targeted"]), programme_index("XQ-YEZZ"))))
    for tag in ("aid_recognized_late", "aid_removed"):
        rows = cases[tag]
        prog = np.array([main_programme(int(stage[r]), bool(boarding[r]), int(category[r]), AUDIT_TERMS[1])
                         for r in rows], dtype=np.int64)  # a few hundred children at most
        added.append(("Z04", tag, rows, prog))
    added.append(("Z05", "aid_expired", cases["aid_expired"],
                  np.full(len(cases["aid_expired"]), programme_index("DF-GZ-JTBZ"))))
    for code, _tag, rows, prog in added:
        cents = grade_cents(prog, rows)
        pay.add(rows, prog, 1, cents, spring[rows])
        found.add(code, rows, np.ones(len(rows), np.int64), prog, spring[rows], 0 * cents, cents)

    # enrolled out of province and not verified whether aided there: the household county must check
    u = unverified
    found.add("Z07", u.person, u.term, u.programme, u.payer, standard_cents(u.programme),
              0 * u.programme)

    # aided in the province where they study and paid at home as well: Z02 on the home payment
    # (county: the paying household county; nothing was due at home)
    a = aided_home
    cents = grade_cents(a.programme, a.person)
    pay.add(a.person, a.programme, a.term, cents, a.payer)
    found.add("Z02", a.person, a.term, a.programme, a.payer, 0 * cents, cents)
    return pay.arrays(), found
