"""Index in the order the county's list is shown (county, township, code, id).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 01:17:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_list", "cases", ["county", "township", "code", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_list", table_name="cases")
