"""The dashboards' due-date counts and open cases from an index: `ix_cases_county_state` (county, state)
becomes `ix_cases_dues` (county, state, opened_run_pk, code), so a province, city or county page counts
its overdue and soon-due cases by a group-by over index entries of its own counties only, and joins
just those groups to their round's due dates (issue 21; it was a join per case, 65 + 63 ms at province
scale).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 03:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_dues", "cases", ["county", "state", "opened_run_pk", "code"])
    op.drop_index("ix_cases_county_state", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_county_state", "cases", ["county", "state"])
    op.drop_index("ix_cases_dues", table_name="cases")
