"""A webhook's previous signing secret while a rotation overlaps (issue 12): after
`triage server webhook rotate ID --overlap 24h` each delivery carries a v1 signature with
the new secret and one with the previous secret until `previous_until`, so a receiver
can switch without refusing an event. NULL: no rotation under way.

Revision ID: 0016_webhook_secret_rotation
Revises: 0015_decision_hours
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_webhook_secret_rotation"
down_revision = "0015_decision_hours"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhookendpoint", sa.Column("previous_secret", sa.String(100), nullable=True))
    op.add_column(
        "webhookendpoint", sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("webhookendpoint", "previous_until")
    op.drop_column("webhookendpoint", "previous_secret")
