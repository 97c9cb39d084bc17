"""Baseline: the schema of release 0.1.0, as its `create_all` made it.

A database made by 0.1.0 has these tables and no `alembic_version`; it is stamped
with this revision (not re-created) the first time a newer server opens it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    counter = op.create_table(
        "counter",
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "mutationlog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.String(40), nullable=True),
        _time("processed_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "seq"),
    )
    op.create_table(
        "policydoc",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_email", "user", ["email"], unique=True)
    op.create_table(
        "clientstate",
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        _time("updated_at"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_index("ix_clientstate_user_id", "clientstate", ["user_id"])
    op.create_table(
        "lead",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("external_id", sa.String(500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        *(
            sa.Column(name, sa.String(), nullable=True)
            for name in (
                "phone",
                "title",
                "company",
                "industry",
                "company_size",
                "country",
                "source",
                "campaign",
            )  # fmt: skip
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        _time("mql_at", True),
        _time("assigned_at", True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("bant", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=True),
        _time("decided_at", True),
        _time("created_at"),
        _time("updated_at"),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
    )
    op.create_index("ix_lead_owner_seq", "lead", ["owner_id", "seq"])
    op.create_index("ix_lead_seq", "lead", ["seq"])
    op.create_table(
        "token",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_index("ix_token_user_id", "token", ["user_id"])
    op.create_table(
        "event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lead_id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("nurture_until", sa.Date(), nullable=True),
        _time("client_at"),
        _time("effective_at"),
        _time("received_at"),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_event_lead_id", "event", ["lead_id"])
    op.create_table(
        "revocation",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.String(24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id", "lead_id"),
    )
    op.create_index("ix_revocation_user_seq", "revocation", ["user_id", "seq"])
    # The change counter's one row, seeded here rather than raced for by every process.
    op.bulk_insert(counter, [{"name": "seq", "value": 0}])


def downgrade() -> None:
    for table in (
        "revocation", "event", "token", "lead", "clientstate", "user", "policydoc",
        "mutationlog", "counter",
    ):  # fmt: skip
        op.drop_table(table)
