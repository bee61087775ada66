"""The declared indicators (kept in the contract, `yidan.contract.indicators`, so a run can name them cheaply)."""

from yidan.contract.indicators import (
    BY_CODE,
    INDICATORS,
    TABLE_LABELS,
    Indicator,
    availability,
    gap,
    target_of,
)

__all__ = ["BY_CODE", "INDICATORS", "TABLE_LABELS", "Indicator", "availability", "gap", "target_of"]
