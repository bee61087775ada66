"""Publishing at province scale: a hash of each case's facts (no version bump when unchanged),
per-run counts by region at every level (dashboards, trends) and the places of the cases
(filter menus and typeahead).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("facts_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "region_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.Column("parent", sa.String(length=12), nullable=True),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_region_counts_region", "region_counts", ["region", "run_pk"])
    op.create_index("ix_region_counts_parent", "region_counts", ["parent", "run_pk"])
    # runs published before: their counts summed up from run_counts
    for region, parent in (("substr(county, 1, 2)", "NULL"), ("substr(county, 1, 4)", "min(substr(county, 1, 2))"),
                           ("county", "min(substr(county, 1, 4))"), ("township", "min(county)")):
        op.execute(f"INSERT INTO region_counts (run_pk, region, parent, dimension, key, count) "  # noqa: S608
                   f"SELECT run_pk, {region}, {parent}, dimension, key, sum(count) FROM run_counts "
                   f"WHERE {region} IS NOT NULL GROUP BY run_pk, {region}, dimension, key")
    op.create_table(
        "places",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("county", sa.String(length=6), nullable=False),
        sa.Column("parent", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("kind", "code", "county"),
    )
    op.create_index("ix_places_parent", "places", ["kind", "parent"])


def downgrade() -> None:
    op.drop_index("ix_places_parent", table_name="places")
    op.drop_table("places")
    op.drop_index("ix_region_counts_parent", table_name="region_counts")
    op.drop_index("ix_region_counts_region", table_name="region_counts")
    op.drop_table("region_counts")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("facts_hash")
