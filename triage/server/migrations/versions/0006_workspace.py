"""Marketing's workspace: web sessions, single-use sign-in codes, and the indexes of the
report aggregates (decisions, MQLs and assignments by time; open leads by SLA clock; a
lead's decide and reopen events).

Revision ID: 0006_workspace
Revises: 0005_sync_identity
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_workspace"
down_revision = "0005_sync_identity"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


INDEXES = (
    (
        "ix_lead_decided",
        "lead",
        ["decided_at", "status", "owner_id", "assigned_at", "mql_at", "campaign", "source", "id"],
    ),
    ("ix_lead_mql_at", "lead", ["mql_at", "campaign", "source"]),
    ("ix_lead_assigned_at", "lead", ["assigned_at", "owner_id"]),
    (
        "ix_lead_status_assigned_at",
        "lead",
        ["status", "assigned_at", "mql_at", "owner_id", "campaign", "source"],
    ),
    ("ix_event_kind_lead", "event", ["kind", "lead_id", "effective_at"]),
    ("ix_changelog_lead", "changelog", ["lead_id", "seq"]),
)


def upgrade() -> None:
    op.create_table(
        "websession",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["token_hash"], ["token.hash"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_websession_user_id", "websession", ["user_id"])
    op.create_table(
        "signincode",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("used_at", True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_index("ix_signincode_user_id", "signincode", ["user_id"])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_signincode_user_id", table_name="signincode")
    op.drop_table("signincode")
    op.drop_index("ix_websession_user_id", table_name="websession")
    op.drop_table("websession")
