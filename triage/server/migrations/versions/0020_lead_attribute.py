"""A lead's attributes one a row (`leadattribute`: key, lead id, the text a crossing shows),
beside the JSON: a breakdown crossed by an attribute (`cross=attr:KEY`) read the wide lead
rows of the period four times for the JSON; it now joins the report indexes with this
narrow table by lead id. Its primary key (key, lead id) covers the value: SQLite's table
has no rowid, PostgreSQL's key INCLUDEs it. The three report indexes without the lead id
get it at the end (ix_lead_decided has it), so that each pass reads no lead row.

The backfill reads the JSON in batches and writes the rows by executemany, the values made
by Python as the server makes them (a migration keeps its own copy of the rule).

Revision ID: 0020_lead_attribute
Revises: 0019_job_lease
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020_lead_attribute"
down_revision = "0019_job_lease"
branch_labels = None
depends_on = None

BATCH = 5000
CROSSED = ["industry", "company_size", "country"]
INDEXES = {  # as revision 0013 left them; the lead id appended
    "ix_lead_reason": ["status", "decided_at", "decision_reason", "campaign", "source",
                       "owner_id", *CROSSED],
    "ix_lead_mql_at": ["mql_at", "campaign", "source", *CROSSED],
    "ix_lead_status_assigned_at": ["status", "assigned_at", "mql_at", "owner_id", "campaign",
                                   "source", *CROSSED],
}  # fmt: skip


def _display(value: Any) -> str | None:
    # models.attribute_display as of this revision
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def upgrade() -> None:
    op.create_table(
        "leadattribute",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"]),
        sa.PrimaryKeyConstraint("key", "lead_id", postgresql_include=["value"]),
        sqlite_with_rowid=False,
    )
    if op.get_context().as_sql:  # offline (`migrate --sql`): the engine reads the JSON
        _backfill_sql()
    else:
        _backfill()
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="lead")
        op.create_index(name, "lead", [*columns, "id"])


def _backfill() -> None:
    conn = op.get_bind()
    lead = sa.table("lead", sa.column("id", sa.String()), sa.column("attributes", sa.JSON()))
    attribute = sa.table("leadattribute", sa.column("key", sa.String()),
                         sa.column("lead_id", sa.String()), sa.column("value", sa.String()))  # fmt: skip
    after = ""
    while True:
        rows = conn.execute(
            sa.select(lead.c.id, lead.c.attributes)
            .where(lead.c.id > after)
            .order_by(lead.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        out = [
            {"key": key, "lead_id": lead_id, "value": _display(value)}
            for lead_id, attributes in rows
            for key, value in (attributes or {}).items()
            if value is not None
        ]
        if out:
            conn.execute(attribute.insert(), out)
        after = rows[-1][0]


def _backfill_sql() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "INSERT INTO leadattribute (key, lead_id, value) SELECT j.key, lead.id, "
            "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            "ELSE CAST(j.value AS TEXT) END FROM lead, json_each(lead.attributes) AS j "
            "WHERE lead.attributes IS NOT NULL AND j.type != 'null'"
        )
    else:
        op.execute(
            "INSERT INTO leadattribute (key, lead_id, value) SELECT j.key, lead.id, j.value "
            "FROM lead, json_each_text(lead.attributes) AS j "
            "WHERE lead.attributes IS NOT NULL AND j.value IS NOT NULL"
        )


def downgrade() -> None:
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="lead")
        op.create_index(name, "lead", columns)
    op.drop_table("leadattribute")
