"""The faults on the identity columns: what the registry and the enrollment system wrote down.

The truth keeps every person's real ID, name, gender and birth date; these functions produce the
columns as the files show them: IDs with one wrong digit or two adjacent digits swapped, legacy
15-digit IDs, IDs Excel turned into 4.30124E+17, a lower-case x, missing IDs with "L" numbers,
homophone characters, shifted birth dates. The damaged rows are few, so plain loops over them
are fine; the untouched millions stay as Arrow arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yidan.synth import ids
from yidan.synth import names as nm
from yidan.synth.enrollment import PersonColumns
from yidan.synth.faults import CASE_INDEX, EXCEL_MANGLED_RATE, LEGACY_15_RATE, LOWERCASE_X_RATE, pick
from yidan.synth.people import ROLE_CHILD, Registry


def replace(arr: pa.Array, idx: np.ndarray, values: Sequence[str | None]) -> pa.Array:
    """`arr` with the values at `idx` replaced (in any order)."""
    if len(idx) == 0:
        return arr
    order = np.argsort(idx, kind="stable")
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(arr, pa.array(mask), pa.array([values[i] for i in order], arr.type))


def prepare_names(rng: np.random.Generator, reg: Registry, cases: dict[str, np.ndarray]) -> None:
    """Twins get different names; homophone cases get a name that has a homophone to swap."""
    twins = np.flatnonzero(reg.twin)  # pairs, in household order: (first child, the twin)
    fix_idx, fix_val = [], []
    surnames = nm.surname_table()[0]
    homo_chars = sorted(nm.homophones())
    for i, j in zip(twins[0::2], twins[1::2], strict=True):  # a few hundred pairs
        a, b = reg.name[int(i)].as_py(), reg.name[int(j)].as_py()
        if a == b:
            fix_idx.append(int(j))
            fix_val.append(a + homo_chars[int(rng.integers(0, len(homo_chars)))])
    for i in np.concatenate([cases["enrollment_missing_id_homophone"], cases["enrollment_missing_id_away_homophone"]]):
        s = surnames[int(reg.surname[i])].as_py()
        name = reg.name[int(i)].as_py()
        if not name.startswith(s) or nm.homophone_variant(name, len(s), rng) is None:
            fix_idx.append(int(i))
            fix_val.append(s + homo_chars[int(rng.integers(0, len(homo_chars)))])
    reg.name = replace(reg.name, np.array(fix_idx, dtype=np.int64), fix_val)


def damage_registry(rng: np.random.Generator, reg: Registry, true_id: pa.Array,
                    case: np.ndarray) -> tuple[pa.Array, pa.Array, dict[str, np.ndarray]]:
    """Registry ID column as written, the normalised person_id (null when rejected), fault rows."""
    faults: dict[str, np.ndarray] = {}
    typo_rows = np.flatnonzero(np.isin(case, [CASE_INDEX["registry_id_typo"], CASE_INDEX["invalid_registry_id"]]))
    swap_rows = np.flatnonzero(case == CASE_INDEX["registry_id_transposition"])
    child15 = np.flatnonzero(case == CASE_INDEX["registry_legacy_15_child"])
    adult = (reg.role != ROLE_CHILD) & (reg.birth < np.datetime64("1999-12-31"))
    legacy = pick(rng, adult, LEGACY_15_RATE, 2)
    rest = adult.copy()
    rest[legacy] = False
    mangled = pick(rng, rest, EXCEL_MANGLED_RATE, 2)
    ends_x = np.asarray(pc.ends_with(true_id, "X").to_numpy(zero_copy_only=False), dtype=bool)
    ends_x[np.concatenate([typo_rows, swap_rows, child15, legacy, mangled])] = False
    lower = pick(rng, ends_x, LOWERCASE_X_RATE, 0) if ends_x.any() else np.zeros(0, np.int64)
    idx, val = [], []
    for rows, fn in ((typo_rows, ids.typo), (swap_rows, ids.transposition)):
        for i in rows:
            idx.append(int(i))
            val.append(fn(true_id[int(i)].as_py(), rng) or ids.typo(true_id[int(i)].as_py(), rng))
    for i in child15:  # a child born 20xx written in the 15-digit form: the reader converts it to 19xx
        idx.append(int(i))
        val.append(ids.legacy15_as_read(true_id[int(i)].as_py()))
    damaged_person = replace(true_id, np.array(idx, dtype=np.int64), val)  # normalised form = damaged
    idx, val = idx[:len(idx) - len(child15)], val[:len(val) - len(child15)]
    for rows, form in ((child15, ids.legacy15), (legacy, ids.legacy15), (mangled, ids.excel_mangled),
                       (lower, str.lower)):
        for i in rows:
            idx.append(int(i))
            val.append(form(true_id[int(i)].as_py()))
    written = replace(true_id, np.array(idx, dtype=np.int64), val)
    person_id = replace(damaged_person, mangled, [None] * len(mangled))
    faults["registry_legacy_15"] = legacy
    faults["registry_excel_mangled"] = mangled
    faults["registry_lowercase_x"] = lower
    return written, person_id, faults


LAST_PAST_YEAR = 2020  # the generated run's term is 2021春: no birth date after 2020 is "past" there


def registry_birth_written(birth: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The registry's birth-date column: the truth, but one year digit wrong on `rows`.

    Ten years late where that is still a past year (2009-05-31 → 2019-05-31: too young to be
    counted), else ten years early (2014 → 2004: too old for compulsory schooling); never a date
    in the future, which ingest refuses whatever the ID says. 29 February becomes the 28th where
    the wrong year has none.
    """
    out = birth.copy()
    if len(rows) == 0:
        return out
    y, mo, d = ids.ymd(birth[rows])
    years = np.where(y + 10 <= LAST_PAST_YEAR, y + 10, y - 10)
    text = [f"{a:04d}-{b:02d}-{min(c, 28) if b == 2 else c:02d}" for a, b, c in zip(years, mo, d, strict=True)]
    out[rows] = np.array(text, dtype="datetime64[D]")
    return out


def shift_days(rng: np.random.Generator, birth: np.ndarray, most: int) -> np.ndarray:
    """A few days off: ±1 to ±`most` days."""
    days = rng.integers(1, most + 1, size=len(birth)) * np.where(rng.random(len(birth)) < 0.5, -1, 1)
    return birth + days.astype("timedelta64[D]")


def shift_birth(rng: np.random.Generator, birth: np.ndarray) -> np.ndarray:
    """±1 day, or ±1 month on the same day of month (days above 28 shift by a day instead)."""
    y, mo, d = ids.ymd(birth)
    sign = np.where(rng.random(len(birth)) < 0.5, -1, 1)
    by_month = (rng.random(len(birth)) < 0.5) & (d <= 28)
    months = (y - 1970) * 12 + (mo - 1) + sign
    shifted = months.astype("datetime64[M]").astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")
    return np.where(by_month, shifted, birth + sign.astype("timedelta64[D]"))


def damage_enrollment(rng: np.random.Generator, cases: dict[str, np.ndarray], true_id: pa.Array,
                      name: pa.Array, male: np.ndarray, birth: np.ndarray, surname_idx: np.ndarray,
                      n_extra_l: int, county: np.ndarray) -> tuple[PersonColumns, pa.Array, dict[str, int]]:
    """Per-person enrollment columns with the enrollment-side faults, and the extra L numbers."""
    id_idx, id_val = [], []
    for tag, fn in (("enrollment_id_typo", ids.typo), ("enrollment_id_transposition", ids.transposition)):
        for i in cases[tag]:
            v = true_id[int(i)].as_py()
            id_idx.append(int(i))
            id_val.append(fn(v, rng) or ids.typo(v, rng))
    missing = np.concatenate([cases[t] for t in ("enrollment_missing_id", "enrollment_missing_id_homophone",
                                                 "enrollment_missing_id_birth_shift", "enrollment_missing_id_away",
                                                 "enrollment_missing_id_away_homophone")])
    enr_id = replace(true_id, np.array(id_idx + missing.tolist(), dtype=np.int64), id_val + [""] * len(missing))
    serial = int(rng.integers(1_000_000, 5_000_000))
    l_all = [f"L{county[i]}2020{serial + k:07d}" for k, i in enumerate(missing.tolist())]
    l_extra = [f"L{county[0]}2021{serial + k:07d}" for k in range(n_extra_l)]  # extra records of K07
    sno = pc.binary_join_element_wise("G", enr_id, "")
    sno = replace(sno, missing, l_all)

    surnames = nm.surname_table()[0]
    n_idx, n_val = [], []
    for i in np.concatenate([cases["enrollment_missing_id_homophone"], cases["enrollment_missing_id_away_homophone"]]):
        s = surnames[int(surname_idx[i])].as_py()
        n_idx.append(int(i))
        n_val.append(nm.homophone_variant(name[int(i)].as_py(), len(s), rng))
    mm = cases["mismatch_name"]
    fresh = nm.draw_given(rng, male[mm]).to_pylist()
    for i, g in zip(mm, fresh, strict=True):
        s = surnames[int(surname_idx[i])].as_py()
        new = s + g
        n_idx.append(int(i))
        n_val.append(new if new != name[int(i)].as_py() else new + "儿")
    enr_name = replace(name, np.array(n_idx, dtype=np.int64), n_val)
    enr_male = male.copy()
    enr_male[cases["mismatch_gender"]] = ~enr_male[cases["mismatch_gender"]]
    enr_birth = birth.copy()
    for tag in ("enrollment_missing_id_birth_shift", "mismatch_birth"):
        enr_birth[cases[tag]] = shift_birth(rng, birth[cases[tag]])
    away = np.concatenate([cases["enrollment_missing_id_away"], cases["enrollment_missing_id_away_homophone"]])
    enr_birth[away] = shift_days(rng, birth[away], 3)
    counts = {t: int(len(cases[t])) for t in (
        "enrollment_id_typo", "enrollment_id_transposition", "enrollment_missing_id",
        "enrollment_missing_id_homophone", "enrollment_missing_id_birth_shift", "enrollment_missing_id_away",
        "enrollment_missing_id_away_homophone")}
    return PersonColumns(sno, enr_id, enr_name, enr_male, enr_birth), pa.array(l_extra, pa.string()), counts
