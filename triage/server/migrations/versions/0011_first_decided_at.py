"""When the current assignment was first decided, as a column of its own
(`lead.first_decided_at`), and in the covering index of a period's decisions: the reports'
time to decision ended at a lookup of the first decide event of every reopened lead, which
was most of the workspace's timed figures at 100,000 leads.

The backfill is the reports' own rule until now: a lead with a reopening (ever) takes its
first decide event since its SLA clock started (`assigned_at`, else `mql_at`), decided or
open again (an undo keeps it); any other decided lead, its decision's time.

Revision ID: 0011_first_decided_at
Revises: 0010_decision_features
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_first_decided_at"
down_revision = "0010_decision_features"
branch_labels = None
depends_on = None

OLD = ["decided_at", "status", "owner_id", "assigned_at", "mql_at", "campaign", "source", "id"]
NEW = ["decided_at", "status", "owner_id", "assigned_at", "mql_at", "first_decided_at",
       "campaign", "source", "id"]  # fmt: skip
REOPENED = "SELECT event.lead_id FROM event WHERE event.kind = 'reopen'"


def upgrade() -> None:
    op.add_column("lead", sa.Column("first_decided_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE lead SET first_decided_at = (SELECT min(event.effective_at) FROM event "
        "WHERE event.kind = 'decide' AND event.lead_id = lead.id "
        "AND event.effective_at >= coalesce(lead.assigned_at, lead.mql_at)) "
        f"WHERE lead.id IN ({REOPENED})"
    )
    op.execute(
        "UPDATE lead SET first_decided_at = decided_at "
        f"WHERE decided_at IS NOT NULL AND lead.id NOT IN ({REOPENED})"
    )
    op.drop_index("ix_lead_decided", table_name="lead")
    op.create_index("ix_lead_decided", "lead", NEW)


def downgrade() -> None:
    op.drop_index("ix_lead_decided", table_name="lead")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): a batch copy of the table
    # cannot drop it while the tables that refer to lead hold rows.
    op.drop_column("lead", "first_decided_at")
    op.create_index("ix_lead_decided", "lead", OLD)
