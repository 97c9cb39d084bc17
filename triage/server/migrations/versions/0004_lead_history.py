"""A lead's history: the decisions of earlier cycles, set aside when marketing reassigned
the decided lead with --force. NULL for every existing lead (no earlier cycle).

Revision ID: 0004_lead_history
Revises: 0003_token_lifecycle
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lead_history"
down_revision = "0003_token_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lead", sa.Column("history", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("history")
