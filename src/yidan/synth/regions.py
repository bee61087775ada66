"""Real county codes of one province, and made-up townships and villages under them.

The counties come from python-stdnum's `cn/loc.dat` (the national division codes with their
history), so the generated IDs carry area codes that a validator accepts. Townships (9 digits) and
villages (12 digits) are not in that table; they are numbered under each county.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from yidan.errors import ConfigError

_ENTRY = re.compile(r'^\s+(\d{4}) county="(.*)"$')
_PROVINCE = re.compile(r'^(\d{2}) province="(.*)"$')
_SPAN = re.compile(r"^\[(\d{4})?-(\d{4})?\](.*)$")


@dataclass(frozen=True)
class Counties:
    """The counties a preset draws households and schools from."""

    province_code: str
    province_name: str
    codes: np.ndarray  # int64 six-digit codes
    names: tuple[str, ...]


def _current_name(raw: str) -> str | None:
    """The name still in use today, or None when the code was abolished."""
    last = raw.split(",")[-1]
    m = _SPAN.match(last)
    if not m:
        return last
    return m.group(3) if m.group(2) is None else None


@cache
def province_counties(province_code: str = "43") -> Counties:
    """Current county-level divisions of a province (prefecture rows and 市辖区 left out)."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    name, inside = "", False
    codes: list[int] = []
    names: list[str] = []
    for line in text.splitlines():
        m = _PROVINCE.match(line)
        if m:
            inside = m.group(1) == province_code
            name = m.group(2) if inside else name
            continue
        if not inside:
            continue
        e = _ENTRY.match(line)
        if not e or e.group(1).endswith("00"):
            continue
        current = _current_name(e.group(2))
        if current and current != "市辖区" and not current.endswith("市区"):
            codes.append(int(province_code + e.group(1)))
            names.append(current)
    if not codes:
        raise ConfigError(f"省份代码 {province_code} 在区划代码表中没有县级区划",
                          hint="使用两位省级代码，例如湖南省为 43。")
    return Counties(province_code, name, np.asarray(codes, dtype=np.int64), tuple(names))


@dataclass(frozen=True)
class Villages:
    """Every village (12-digit code) with its township (9) and county (6) index."""

    county_idx: np.ndarray  # index into Counties.codes
    township: np.ndarray  # int64 nine-digit codes
    village: np.ndarray  # int64 twelve-digit codes


def make_villages(rng: np.random.Generator, county_codes: np.ndarray, towns_per_county: int,
                  villages_per_town: int) -> Villages:
    """Townships numbered 100, 101 ... and villages 200, 201 ... under each, as real codes are."""
    n_c = len(county_codes)
    c_idx = np.repeat(np.arange(n_c), towns_per_county)
    t_seq = np.tile(np.arange(towns_per_county), n_c) + 100
    township = county_codes[c_idx] * 1000 + t_seq
    v_per = rng.integers(max(1, villages_per_town // 2), villages_per_town + 1, size=len(township))
    t_rep = np.repeat(np.arange(len(township)), v_per)
    v_seq = np.arange(len(t_rep)) - np.repeat(np.cumsum(v_per) - v_per, v_per) + 200
    return Villages(c_idx[t_rep], township[t_rep], township[t_rep] * 1000 + v_seq)
