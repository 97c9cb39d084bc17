"""Token lifecycle: a public id for every token, expiry, revocation, last use; users can be
deactivated.

Existing tokens get a random public id and stay valid (no expiry); existing users stay
active.

Revision ID: 0003_token_lifecycle
Revises: 0002_server_identity
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_token_lifecycle"
down_revision = "0002_server_identity"
branch_labels = None
depends_on = None


def _time(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _token_before_not_null() -> sa.Table:
    """The token table as it is once the columns are added: what SQLite's batch copy
    starts from (given, not reflected, so that `migrate --sql` can print it too)."""
    return sa.Table(
        "token",
        sa.MetaData(),
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public_id", sa.String(16), nullable=True),
        _time("expires_at"),
        _time("revoked_at"),
        _time("last_used_at"),
        sa.Index("ix_token_user_id", "user_id"),
    )


# A random public id for each existing token, made by the database itself (so the same
# SQL works when `migrate --sql` prints it): 10 hex digits, neither the secret nor its hash.
RANDOM_ID = {
    "sqlite": "lower(hex(randomblob(5)))",
    "postgresql": "substr(md5(random()::text || clock_timestamp()::text || hash), 1, 10)",
}


def upgrade() -> None:
    # Plain ADD COLUMNs (SQLite can): a batch copy of "user" would drop a table that
    # leads, tokens and events point at.
    op.add_column(
        "user", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column("token", sa.Column("public_id", sa.String(16), nullable=True))
    for name in ("expires_at", "revoked_at", "last_used_at"):
        op.add_column("token", _time(name))
    op.execute(f"UPDATE token SET public_id = {RANDOM_ID[op.get_context().dialect.name]}")
    with op.batch_alter_table("token", copy_from=_token_before_not_null()) as batch:
        batch.alter_column("public_id", existing_type=sa.String(16), nullable=False)
        batch.create_index("ix_token_public_id", ["public_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("token") as batch:
        batch.drop_index("ix_token_public_id")
        for name in ("last_used_at", "revoked_at", "expires_at", "public_id"):
            batch.drop_column(name)
    op.drop_column("user", "active")
