"""Preset sizes: tiny (unit tests), county (one county), province (every county of the province).

`province-tenth` is the province at a tenth of its households (every county, a tenth of the
rows): the size the benchmarks use where the whole province would take too long.
"""

from __future__ import annotations

from dataclasses import dataclass

from yidan.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    counties: tuple[str, ...] | None  # six-digit codes; None = every county of the province
    households_per_county: int
    pupils_per_child: float  # non-registry pupils per school-age registry child (registry ≈ 20 % of pupils)
    towns_per_county: int
    villages_per_town: int
    min_cases: int  # every case at least this often (so small presets hold them all)
    enrollment_format: str  # xlsx | csv
    parquet: bool  # also write registry, enrollment and aid as Parquet
    province_code: str = "43"


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", ("433127", "433130"), 200, 3.0, 3, 4, 1, "xlsx", False),
    "county": Preset("county", ("433127",), 12_000, 3.0, 20, 15, 2, "csv", False),
    "province": Preset("province", None, 21_200, 3.0, 20, 18, 3, "csv", True),
    "province-tenth": Preset("province-tenth", None, 2_120, 3.0, 20, 18, 3, "csv", True),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"未知的数据规模：{name}",
                          hint=f"可选：{' / '.join(PRESETS)}（tiny 用于单元测试，county 为一个县，province 为全省）。") from None
