"""The case list's first sort key as a column: the person's poverty status as a rank (未脱贫 and 返贫
first), written at publish, with indexes in the list's order, so a province, city or county list page
reads its first rows from an index instead of sorting every case on a field inside the stored person
record (issue 21); and the places by county (a county dashboard reads its place names from them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

POVERTY_ORDER = {"未脱贫": 0, "返贫": 1, "已脱贫": 2}  # contract.outputs.POVERTY_ORDER as of this revision
POVERTY_LAST = 3


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("priority", sa.SmallInteger(), nullable=False,
                                   server_default=sa.text(str(POVERTY_LAST))))
    cases = sa.table("cases", sa.column("person", sa.JSON()), sa.column("priority", sa.SmallInteger()))
    status = cases.c.person["poverty_status"].as_string()
    op.execute(cases.update().values(priority=sa.case(*[(status == k, v) for k, v in POVERTY_ORDER.items()],
                                                      else_=POVERTY_LAST)))
    op.create_index("ix_cases_priority_list", "cases", ["priority", "county", "township", "code", "id"])
    op.create_index("ix_cases_county_priority", "cases", ["county", "priority", "township", "code", "id"])
    op.create_index("ix_places_county", "places", ["county", "kind", "code"])  # a county's place names


def downgrade() -> None:
    op.drop_index("ix_places_county", table_name="places")
    op.drop_index("ix_cases_county_priority", table_name="cases")
    op.drop_index("ix_cases_priority_list", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("priority")
