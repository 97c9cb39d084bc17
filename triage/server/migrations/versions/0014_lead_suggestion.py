"""A lead's suggestion (issue 14): the model's likeliest outcome for it, a rejection's
reason, the confidence and the factors that weigh most, computed when the lead is
assigned (an import with an owner, `assign`, a new cycle) and kept with the lead, so a
retrain does not make every rep pull every lead again (`triage server suggest rescore`
refreshes open leads on purpose). NULL: no suggestion (no model yet, or none made).

Revision ID: 0014_lead_suggestion
Revises: 0013_crossed_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_lead_suggestion"
down_revision = "0013_crossed_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lead", sa.Column("suggestion", sa.JSON(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not Alembic's batch copy of the lead
    # table: that copy fails on SQLite ("FOREIGN KEY constraint failed") while tables that
    # refer to lead have rows (see 0011)
    op.drop_column("lead", "suggestion")
