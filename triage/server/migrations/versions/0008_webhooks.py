"""Webhooks out: the endpoints marketing adds (`triage server webhook add`) and the outbox
of events for each, written in the transaction of the change that caused them and
delivered by every `triage server run` (see triage.server.webhooks).

Revision ID: 0008_webhooks
Revises: 0007_import_attributes
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_webhooks"
down_revision = "0007_import_attributes"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhookendpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        _time("created_at", False),
        sa.Column("state", sa.String(10), nullable=False),
        _time("failing_since"),
        _time("retry_at"),
        sa.Column("lease_owner", sa.String(80), nullable=True),
        _time("lease_until"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhookoutbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("lead_id", sa.String(24), nullable=True),
        sa.Column("origin", sa.String(120), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        _time("created_at", False),
        sa.Column("event_seq", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("first_failed_at"),
        _time("last_attempt_at"),
        sa.Column("last_result", sa.String(200), nullable=True),
        _time("delivered_at"),
        sa.Column("delivered_by", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_id", "seq"),
    )
    pending = sa.text("state = 'pending'")
    op.create_index("ix_webhookoutbox_pending", "webhookoutbox", ["endpoint_id", "seq"],
                    sqlite_where=pending, postgresql_where=pending)  # fmt: skip
    again = sa.text("type IN ('lead.reopened', 'lead.nurture_due')")
    op.create_index("ix_webhookoutbox_again", "webhookoutbox", ["event_id", "endpoint_id"],
                    unique=True, sqlite_where=again, postgresql_where=again)  # fmt: skip
    nurture = sa.text("type = 'lead.nurture_due'")
    op.create_index("ix_webhookoutbox_nurture", "webhookoutbox",
                    ["endpoint_id", "lead_id", "origin"],
                    sqlite_where=nurture, postgresql_where=nurture)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_webhookoutbox_nurture", table_name="webhookoutbox")
    op.drop_index("ix_webhookoutbox_again", table_name="webhookoutbox")
    op.drop_index("ix_webhookoutbox_pending", table_name="webhookoutbox")
    op.drop_table("webhookoutbox")
    op.drop_table("webhookendpoint")
