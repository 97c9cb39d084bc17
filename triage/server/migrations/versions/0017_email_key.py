"""The email as imports match duplicates, folded by Python (`lead.email_key`), indexed.

An import links a new lead to an open lead with the same email, case folded. The lookup
was `lower(email) IN (...)`: SQLite's lower() folds ASCII only, so "ÉMILE@x.example" and
"émile@x.example" were one lead on PostgreSQL and two on SQLite, and neither engine
folds "STRASSE" and "straße" together. The column holds `email.strip().casefold()`
written by the server (models.folded_email), so both engines compare the same text;
the index (email_key, status) finds the open leads without reading the table.

The backfill folds in Python as well (an SQL lower() would be the engine's rule again):
ids and emails read in batches, the keys written by executemany.

Revision ID: 0017_email_key
Revises: 0016_webhook_secret_rotation
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_email_key"
down_revision = "0016_webhook_secret_rotation"
branch_labels = None
depends_on = None

BATCH = 5000


def _folded(email: str | None) -> str | None:
    # models.folded_email as of this revision (a migration keeps its own copy of a rule)
    return email.strip().casefold() if email is not None else None


def upgrade() -> None:
    op.add_column("lead", sa.Column("email_key", sa.String(), nullable=True))
    if op.get_context().as_sql:  # offline (`migrate --sql`): no rows to read here
        op.execute(
            "-- the engine's lower() stands in for Python's casefold: exact for ASCII "
            "emails; `triage server migrate` online folds every email"
        )
        op.execute("UPDATE lead SET email_key = lower(trim(email))")
    else:
        _backfill()
    op.create_index("ix_lead_email_key", "lead", ["email_key", "status"])


def _backfill() -> None:
    conn = op.get_bind()
    lead = sa.table("lead", sa.column("id", sa.String()), sa.column("email", sa.String()),
                    sa.column("email_key", sa.String()))  # fmt: skip
    write = (
        sa.update(lead)
        .where(lead.c.id == sa.bindparam("_id"))
        .values(email_key=sa.bindparam("_key"))
    )
    after = ""
    while True:
        rows = conn.execute(
            sa.select(lead.c.id, lead.c.email)
            .where(lead.c.id > after)
            .order_by(lead.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(write, [{"_id": i, "_key": _folded(e)} for i, e in rows])
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_lead_email_key", table_name="lead")
    # ALTER TABLE ... DROP COLUMN in place (a batch copy of lead fails while tables refer to it)
    op.drop_column("lead", "email_key")
