"""Aid casework: the 补发 and 追回 recorded on aid cases (amount, date, voucher); cases by child.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aid_money",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("voucher_no", sa.String(length=64), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_aid_money_case", "aid_money", ["case_id", "kind"])
    op.create_index("ix_cases_person", "cases", ["person_id", "term"])


def downgrade() -> None:
    op.drop_index("ix_cases_person", table_name="cases")
    op.drop_index("ix_aid_money_case", table_name="aid_money")
    op.drop_table("aid_money")
