"""Open leads by their email, case folded: an import looks each new row's email up (a
possible duplicate, `--on-duplicate`), and without an index every chunk of 1,000 rows
read the whole lead table: 8 of a 100,000-row import's 22 s (issue 13).

Revision ID: 0015_lead_email_lower
Revises: 0014_lead_suggestion
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_lead_email_lower"
down_revision = "0014_lead_suggestion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_lead_email_lower", "lead", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_lead_email_lower", table_name="lead")
