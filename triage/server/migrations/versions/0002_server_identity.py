"""Server identity: a random `server_id` made with the database, and the history `epoch`.

Both are served by `GET /v1/health`. The epoch starts at 1 and changes whenever the
server's history may have gone back (a restore), so clients can tell.

Revision ID: 0002_server_identity
Revises: 0001_baseline
Create Date: 2026-11-30
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0002_server_identity"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    info = op.create_table(
        "serverinfo",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_serverinfo_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        info,
        [
            {
                "id": 1,
                "server_id": str(uuid.uuid4()),
                "epoch": 1,
                "created_at": datetime.now(timezone.utc),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("serverinfo")
