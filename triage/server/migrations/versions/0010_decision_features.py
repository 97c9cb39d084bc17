"""The model of the team's decisions (issue 14): each decision's snapshot of the lead as it
was decided (`decisionfeatures`: the lead's triage-time columns, copied from its row in the
transaction of the decision's event), and the trained models
(`suggestmodel`, written by `triage server suggest train`).

Decisions made before this revision have no snapshot: the lead's fields may have changed
since, so they are not guessed (a model would learn from what was written later).

Revision ID: 0010_decision_features
Revises: 0009_decision_reason
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_decision_features"
down_revision = "0009_decision_reason"
branch_labels = None
depends_on = None

_TEXT = ("title", "industry", "company_size", "country", "source", "campaign")


def upgrade() -> None:
    op.create_table(
        "decisionfeatures",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lead_id", sa.String(24), nullable=False),
        sa.Column("decision_id", sa.String(80), nullable=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.String(), nullable=True) for name in _TEXT),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("mql_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_decisionfeatures_lead_id", "decisionfeatures", ["lead_id"])
    op.create_table(
        "suggestmodel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.Column("library", sa.String(40), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("suggestmodel")
    op.drop_index("ix_decisionfeatures_lead_id", table_name="decisionfeatures")
    op.drop_table("decisionfeatures")
