"""Registry households and their members, and the (mostly not poor) pupils beside them.

Everything is drawn as whole arrays: a household is a head, maybe a spouse, 0–3 children and maybe
an elderly parent; children's ages are bounded by the head's. Ages are whole years on the reference
day (31 Aug 2020 for the run term 2021春), computed from month and day, never from a year delta.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from yidan.synth import names as nm
from yidan.synth.ids import ymd
from yidan.synth.regions import Villages

ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_PARENT = 0, 1, 2, 3
CATEGORY_P = (0.70, 0.10, 0.15, 0.05)  # order of contract.codes.CATEGORIES
DISABILITIES = ("", "肢体残疾", "智力残疾", "视力残疾", "听力残疾", "言语残疾", "精神残疾", "多重残疾")


def age_on(birth: np.ndarray, ref: np.datetime64) -> np.ndarray:
    """Whole years on `ref` (a birthday on the reference day counts)."""
    y, mo, d = ymd(birth)
    ry, rm, rd = ymd(np.array([ref]))
    before = (mo > rm[0]) | ((mo == rm[0]) & (d > rd[0]))
    return ry[0] - y - before.astype(np.int64)


def births_for_age(rng: np.random.Generator, age: np.ndarray, ref: np.datetime64) -> np.ndarray:
    """A birth date giving exactly `age` whole years on `ref`."""
    days_back = (age * 365.25).astype(np.int64) + rng.integers(0, 365, size=len(age))
    birth = ref - days_back.astype("timedelta64[D]")
    # fix the few draws that land one year off around the reference day
    off = age_on(birth, ref) - age
    return birth + (off * 365).astype("timedelta64[D]")


@dataclass
class Registry:
    """One row per registry member; arrays of equal length."""

    household: np.ndarray
    role: np.ndarray
    birth: np.ndarray  # datetime64[D]
    male: np.ndarray
    county_idx: np.ndarray
    village: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    recognized: np.ndarray  # datetime64[D]
    removed: np.ndarray  # datetime64[D], NaT = still registered
    disability: np.ndarray  # index into DISABILITIES
    surname: np.ndarray  # index into the surname table
    twin: np.ndarray
    name: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))

    def __len__(self) -> int:
        return len(self.household)


def make_registry(rng: np.random.Generator, villages: Villages, n_households: int,
                  ref: np.datetime64, twin_share: float) -> Registry:
    """Households spread over the villages, with their members in household order."""
    hh_village = rng.integers(0, len(villages.village), size=n_households)
    head_age = rng.integers(25, 66, size=n_households)
    has_spouse = rng.random(n_households) < 0.75
    n_kids = rng.choice(4, size=n_households, p=(0.30, 0.40, 0.22, 0.08))
    has_parent = rng.random(n_households) < 0.25
    twin_hh = (rng.random(n_households) < twin_share) & (n_kids > 0)
    size = 1 + has_spouse + n_kids + has_parent + twin_hh
    hh = np.repeat(np.arange(n_households), size)
    pos = np.arange(len(hh)) - np.repeat(np.cumsum(size) - size, size)

    kids_end = 1 + has_spouse[hh] + n_kids[hh]
    role = np.select(
        [pos == 0, (pos == 1) & has_spouse[hh], pos < kids_end, (pos == kids_end) & twin_hh[hh]],
        [ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_CHILD], ROLE_PARENT)
    is_twin_copy = (pos == kids_end) & twin_hh[hh]
    role = np.where(is_twin_copy, ROLE_CHILD, role)
    ha = head_age[hh]
    age = np.select(
        [role == ROLE_HEAD, role == ROLE_SPOUSE, role == ROLE_CHILD],
        [ha, np.clip(ha + rng.integers(-4, 4, len(hh)), 20, 80),
         rng.integers(0, np.maximum(ha - 19, 1).clip(max=36))],
        np.clip(ha + rng.integers(22, 30, len(hh)), 45, 95))
    birth = births_for_age(rng, age, ref)
    male = np.where(role == ROLE_HEAD, rng.random(len(hh)) < 0.85,
                    np.where(role == ROLE_SPOUSE, False, rng.random(len(hh)) < 0.52))
    # the twin copy is born on the first child's day (first child sits right after head/spouse)
    first_kid = np.flatnonzero(is_twin_copy) - n_kids[hh[is_twin_copy]]
    birth[is_twin_copy] = birth[first_kid]
    twin = np.zeros(len(hh), dtype=bool)
    twin[is_twin_copy] = True
    twin[first_kid] = True

    hh_surname = nm.draw_surnames(rng, n_households)
    surname = np.where(role == ROLE_SPOUSE, nm.draw_surnames(rng, len(hh)), hh_surname[hh])
    surname = np.where(role == ROLE_PARENT, hh_surname[hh], surname)
    cat_hh = rng.choice(4, size=n_households, p=CATEGORY_P)
    recognized_hh = np.datetime64("2014-01-01") + rng.integers(0, 6 * 365 + 200, n_households)
    disability = np.where(rng.random(len(hh)) < 0.03, rng.integers(1, len(DISABILITIES), len(hh)), 0)
    v = hh_village[hh]
    reg = Registry(
        household=hh, role=role, birth=birth, male=male, county_idx=villages.county_idx[v],
        village=villages.village[v], category=cat_hh[hh], recognized=recognized_hh[hh],
        removed=np.full(len(hh), np.datetime64("NaT"), dtype="datetime64[D]"),
        disability=disability, surname=surname, twin=twin,
    )
    reg.name = nm.full_names(rng, surname, male)
    return reg


@dataclass
class Pupils:
    """Pupils who are not in the registry (most pupils): county, birth, gender and name."""

    county_idx: np.ndarray
    birth: np.ndarray
    male: np.ndarray
    name: pa.Array

    def __len__(self) -> int:
        return len(self.county_idx)


def make_pupils(rng: np.random.Generator, n_per_county: np.ndarray, ref: np.datetime64) -> Pupils:
    county_idx = np.repeat(np.arange(len(n_per_county)), n_per_county)
    n = len(county_idx)
    age = rng.choice(np.arange(3, 18), size=n, p=_PUPIL_AGE_P)
    male = rng.random(n) < 0.52
    birth = births_for_age(rng, age, ref)
    return Pupils(county_idx, birth, male, nm.full_names(rng, nm.draw_surnames(rng, n), male))


_w = np.array([0.7, 0.8, 0.9] + [1.0] * 9 + [0.75, 0.7, 0.65])
_PUPIL_AGE_P = _w / _w.sum()
