"""Masking of ID and phone numbers.

Lists and exports show masked numbers; the full number is shown only on the pages
and to the roles that need it (FULL_RECORD_ROLES), and each such view is audited.
"""

from __future__ import annotations

FULL_RECORD_ROLES = ("province_admin", "city", "county")


def mask_id(value: str | None) -> str:
    """430124201001011234 -> 430124********1234 (county and last four stay readable)."""
    if not value:
        return ""
    v = str(value)
    if len(v) <= 10:
        return v[:2] + "*" * max(0, len(v) - 2)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    v = str(value)
    return v[:3] + "*" * max(0, len(v) - 7) + v[-4:] if len(v) >= 7 else "*" * len(v)


def may_see_full(role: str) -> bool:
    return role in FULL_RECORD_ROLES
