"""Resident ID numbers, vectorised: made valid, and damaged the ways real exports damage them.

An ID is 6 digits of area code, 8 of birth date, 3 of sequence (odd for men) and an ISO 7064
MOD 11-2 check character. The 17-digit body fits an int64, so the check character of millions of
IDs is a handful of numpy operations. python-stdnum is the oracle in the tests, not the generator.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yidan.identity.idnumber import CHECK_CHARS, WEIGHTS

_WEIGHTS = np.array(WEIGHTS, dtype=np.int64)  # owned by identity.idnumber
_CHECK = pa.array(list(CHECK_CHARS))  # check character for (sum of weighted digits) % 11


def check_index(body: np.ndarray) -> np.ndarray:
    """Weighted digit sum mod 11, one digit position at a time (no n × 17 matrix in memory)."""
    total = np.zeros(len(body), dtype=np.int64)
    for k in range(17):
        total += (body // 10 ** (16 - k)) % 10 * _WEIGHTS[k]
    return total % 11


def check_chars(body: np.ndarray) -> pa.Array:
    return _CHECK.take(pa.array(check_index(body)))


def ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of a datetime64[D] array."""
    y = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return y, mo, d


def make_bodies(rng: np.random.Generator, county: np.ndarray, birth: np.ndarray,
                male: np.ndarray) -> np.ndarray:
    """Unique 17-digit bodies: people sharing county and birth date get distinct sequence numbers.

    The sequence is 2 × (random group offset + rank within the group) + (1 for men), so it is
    unique inside each (county, birth date) group and has the right parity.
    """
    y, mo, d = ymd(birth)
    date8 = y * 10000 + mo * 100 + d
    key = county * 100_000_000 + date8
    order = np.argsort(key, kind="stable")
    sk = key[order]
    start = np.r_[True, sk[1:] != sk[:-1]]
    group_first = np.maximum.accumulate(np.where(start, np.arange(len(sk)), 0))
    rank = np.empty(len(sk), dtype=np.int64)
    rank[order] = np.arange(len(sk)) - group_first
    if len(rank) and rank.max() >= 400:
        raise ValueError("too many people born on one day in one county for unique IDs")
    offset = rng.integers(0, 100, size=len(key))  # same group, different offsets: add rank spacing
    group_offset = np.empty(len(sk), dtype=np.int64)
    group_offset[order] = offset[order][group_first]
    seq = 2 * (group_offset + rank) + male.astype(np.int64)
    return key * 1000 + seq


def id_strings(body: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(pc.cast(pa.array(body), pa.string()), check_chars(body), "")


def is_valid(ids: list[str]) -> list[bool]:
    """Check character only (for small lists; the oracle in tests is stdnum)."""
    out = []
    for s in ids:
        if len(s) != 18 or not s[:17].isdigit():
            out.append(False)
            continue
        idx = check_index(np.array([int(s[:17])], dtype=np.int64))[0]
        out.append(s[17].upper() == "10X98765432"[idx])
    return out


def typo(id18: str, rng: np.random.Generator) -> str:
    """One wrong digit in the 17-digit body, outside the area code's province part."""
    pos = int(rng.integers(2, 17))
    wrong = (int(id18[pos]) + int(rng.integers(1, 10))) % 10
    return id18[:pos] + str(wrong) + id18[pos + 1:]


def transposition(id18: str, rng: np.random.Generator) -> str | None:
    """Two adjacent body digits swapped; None when every adjacent pair is equal."""
    spots = [i for i in range(2, 16) if id18[i] != id18[i + 1]]
    if not spots:
        return None
    i = spots[int(rng.integers(0, len(spots)))]
    return id18[:i] + id18[i + 1] + id18[i] + id18[i + 2:]


def legacy15(id18: str) -> str:
    """The first-generation 15-digit form: no century, no check character (people born 19xx)."""
    return id18[:6] + id18[8:17]


def legacy15_as_read(id18: str) -> str:
    """What a reader makes of `legacy15(id18)`: the century '19' and a computed check character.

    For a person born in 19xx that is the ID itself; for a child born in 20xx, a different,
    check-valid ID a hundred years older.
    """
    body = id18[:6] + "19" + id18[8:17]
    return body + check_chars(np.array([int(body)], dtype=np.int64))[0].as_py()


def excel_mangled(id18: str) -> str:
    """What Excel shows for an 18-digit ID stored as a number: 4.30124E+17."""
    return f"{float(id18[:17] + '0'):.5E}".replace("E+", "E+")
