"""The suggestion a rep was shown when deciding (issue 14): each decision's feature row
keeps the lead's suggestion as it stood at the decision (copied from the lead's row by the
database in the push, NULL while the policy turned suggestions off) and the policy's
confidence threshold then, so "how often reps agreed with the suggestion" counts only
suggestions the rep could see. Decisions from before this revision have none.

Revision ID: 0018_decision_suggestion
Revises: 0017_email_key
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_decision_suggestion"
down_revision = "0017_email_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisionfeatures", sa.Column("suggestion", sa.JSON(), nullable=True))
    op.add_column("decisionfeatures", sa.Column("suggestion_threshold", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("decisionfeatures", "suggestion_threshold")
    op.drop_column("decisionfeatures", "suggestion")
