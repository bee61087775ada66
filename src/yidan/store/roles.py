"""The roles, owned here once: their Chinese labels, the region each is given, and who may do what.

The web's route guards (`web/deps.py`), masking (`web/masking.py`), the pages' menus (template
globals), account checks (`store/crud/users.py`), the demo accounts and the CLI's help all read these
names; none spells a role list of its own. No imports from the rest of the package: every layer may use it.
"""

from __future__ import annotations

ROLES: dict[str, str] = {
    "province_admin": "省级管理员",
    "province_analyst": "省级分析员",
    "city": "市州",
    "county": "县市区",
    "inspector": "督导检查",
}
# digits of the region code each role is given (None: an inspector may be given any level)
REGION_LENGTH: dict[str, int | None] = {"province_admin": 2, "province_analyst": 2, "city": 4, "county": 6,
                                        "inspector": None}
DEMO_REGION_LENGTH: dict[str, int] = {"province_admin": 2, "province_analyst": 2, "city": 4, "county": 6,
                                      "inspector": 4}

ALL_ROLES: tuple[str, ...] = tuple(ROLES)
FULL_RECORD_ROLES: tuple[str, ...] = ("province_admin", "city", "county")  # may ask for a full record (audited)
CASE_WORKERS: tuple[str, ...] = ("county", "city")  # work cases, upload filled workbooks
LINK_REVIEWERS: tuple[str, ...] = ("county", "city", "province_admin")
CLOSURE_CONFIRMERS: tuple[str, ...] = ("city", "province_admin")
RUN_VIEWERS: tuple[str, ...] = ("province_admin", "province_analyst")
RUN_ADMINS: tuple[str, ...] = ("province_admin",)
AUDITORS: tuple[str, ...] = ("province_admin",)  # the audit log, accounts and sessions
WORKBOOK_USERS: tuple[str, ...] = ("county", "city", "province_admin")  # county workbooks, 走访台账
# the workbook level each workbook user downloads
WORKBOOK_LEVEL: dict[str, str] = {"county": "county", "city": "city", "province_admin": "province"}
