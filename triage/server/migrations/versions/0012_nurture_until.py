"""The standing decision's re-entry date as a column of its own (`lead.nurture_until`),
filled from the decision's JSON, and an index for the nurture list: the list and its count
read every nurtured lead's JSON (about 18,000 at 100,000 leads) on each request.

Revision ID: 0012_nurture_until
Revises: 0011_first_decided_at
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_nurture_until"
down_revision = "0011_first_decided_at"
branch_labels = None
depends_on = None

COLUMNS = ["status", "nurture_until", "id"]


def upgrade() -> None:
    op.add_column("lead", sa.Column("nurture_until", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        until = "CAST(NULLIF(decision::json ->> 'nurture_until', '') AS DATE)"
    else:
        until = "date(NULLIF(json_extract(decision, '$.nurture_until'), ''))"
    op.execute(f"UPDATE lead SET nurture_until = {until} WHERE decision IS NOT NULL")
    op.create_index("ix_lead_nurture_until", "lead", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_lead_nurture_until", table_name="lead")
    op.drop_column("lead", "nurture_until")  # ALTER TABLE ... DROP COLUMN (see 0010)
