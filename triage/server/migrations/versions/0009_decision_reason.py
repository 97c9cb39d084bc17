"""The standing decision's reason as a column of its own (`lead.decision_reason`), filled
from the decision's JSON, and a covering index for the reports' reason counts: SQLite
3.40 cannot cover an index on a JSON expression, and reading each rejected lead's JSON
took most of the workspace's overview at 100,000 leads.

Revision ID: 0009_decision_reason
Revises: 0008_webhooks
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_decision_reason"
down_revision = "0008_webhooks"
branch_labels = None
depends_on = None

COLUMNS = ["status", "decided_at", "decision_reason", "campaign", "source", "owner_id"]


def upgrade() -> None:
    op.add_column("lead", sa.Column("decision_reason", sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        reason = "NULLIF(decision::json ->> 'reason', '')"
    else:
        reason = "NULLIF(json_extract(decision, '$.reason'), '')"
    op.execute(f"UPDATE lead SET decision_reason = {reason} WHERE decision IS NOT NULL")
    op.create_index("ix_lead_reason", "lead", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_lead_reason", table_name="lead")
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("decision_reason")
