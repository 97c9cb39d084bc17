"""Leases of server-wide jobs (issue 14): the background retraining runs in one instance at
a time, whoever holds the `retrain` row's lease until it runs out.

Revision ID: 0019_job_lease
Revises: 0018_decision_suggestion
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_job_lease"
down_revision = "0018_decision_suggestion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "joblease",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(80), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("joblease")
