"""Sync identity: the change log that tells a client its cursor is from another history,
and the identity of each decision.

- `changelog`: one row per change number (append-only): the lead, the kind of change, and
  a random digest. A client presents the digest of the last change it pulled; after a
  restore the same number names another change (or none yet), so the digests differ and
  the pull answers `reset`. Existing numbers get a row each (random digests) so every
  cursor already handed out can be checked; rows older than the retention are pruned.
- `event`: `decision_id` (who first made a decision: "client_id:seq", the same when a rep
  sends it again after a restore), and the client id and seq of the mutation that made it.

Revision ID: 0005_sync_identity
Revises: 0004_lead_history
Create Date: 2026-11-30
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0005_sync_identity"
down_revision = "0004_lead_history"
branch_labels = None
depends_on = None

BACKFILL_CHUNK = 10_000


def upgrade() -> None:
    changelog = op.create_table(
        "changelog",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("lead_id", sa.String(24), nullable=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_changelog_at", "changelog", ["at"])
    for column in (
        sa.Column("decision_id", sa.String(80), nullable=True),
        sa.Column("client_id", sa.String(36), nullable=True),
        sa.Column("mutation_seq", sa.Integer(), nullable=True),
    ):
        op.add_column("event", column)
    if op.get_context().as_sql:  # offline SQL: the backfill needs to read the counter
        op.execute(
            "-- then give every change number up to the counter a row in changelog "
            "(seq, a random 12-hex digest, kind 'earlier'); `triage server migrate` does it"
        )
        return
    bind = op.get_bind()
    top = bind.execute(sa.text("SELECT value FROM counter WHERE name = 'seq'")).scalar() or 0
    now = datetime.now(timezone.utc)
    for start in range(1, top + 1, BACKFILL_CHUNK):
        op.bulk_insert(
            changelog,
            [
                {
                    "seq": n,
                    "digest": secrets.token_hex(6),
                    "lead_id": None,
                    "kind": "earlier",
                    "at": now,
                }
                for n in range(start, min(top, start + BACKFILL_CHUNK - 1) + 1)
            ],  # fmt: skip
        )


def downgrade() -> None:
    with op.batch_alter_table("event") as batch:
        for name in ("mutation_seq", "client_id", "decision_id"):
            batch.drop_column(name)
    op.drop_index("ix_changelog_at", "changelog")
    op.drop_table("changelog")
