"""A lead's suggestion as a rep is sent it (issue 14): `suggestion_sent`, the JSON text of
the stored suggestion without `model`; `suggestion_list`, the same as a list [outcome,
reason, confidence, factors] (a third fewer bytes, for a client that asks for it:
"suggestion_list"); and `suggestion_confidence`, its confidence when a number; written
with `suggestion` (models.suggestion_columns). A pull read the text and the confidence
out of the JSON for every lead (SQLite's json_remove and json_extract, PostgreSQL's jsonb
operators): a third of what suggestions added to a 10,000-lead pull; it now pastes it.

The backfill reads the JSON in batches and writes the two columns by executemany, made by
Python as the server makes them (a migration keeps its own copy of the rule).

Revision ID: 0021_suggestion_sent
Revises: 0020_lead_attribute
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0021_suggestion_sent"
down_revision = "0020_lead_attribute"
branch_labels = None
depends_on = None

BATCH = 5000
_compact = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _columns(suggestion: Any) -> tuple[str | None, str | None, float | None]:
    # models.suggestion_columns as of this revision
    if not isinstance(suggestion, dict):
        return None, None, None
    confidence = suggestion.get("confidence")
    number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    sent = _compact({k: v for k, v in suggestion.items() if k != "model"})
    factors = suggestion.get("factors")
    listed = _compact([suggestion.get("outcome"), suggestion.get("reason"), confidence,
                       factors if isinstance(factors, list) else []])  # fmt: skip
    return sent, listed, float(confidence) if number else None


def upgrade() -> None:
    op.add_column("lead", sa.Column("suggestion_sent", sa.Text(), nullable=True))
    op.add_column("lead", sa.Column("suggestion_list", sa.Text(), nullable=True))
    op.add_column("lead", sa.Column("suggestion_confidence", sa.Float(), nullable=True))
    if op.get_context().as_sql:  # offline (`migrate --sql`): the engine reads the JSON
        _backfill_sql()
    else:
        _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    lead = sa.table(
        "lead", sa.column("id", sa.String()), sa.column("suggestion", sa.JSON()),
        sa.column("suggestion_sent", sa.Text()), sa.column("suggestion_list", sa.Text()),
        sa.column("suggestion_confidence", sa.Float()),
    )  # fmt: skip
    update = (
        lead.update()
        .where(lead.c.id == sa.bindparam("_id"))
        .values(suggestion_sent=sa.bindparam("_sent"), suggestion_list=sa.bindparam("_list"),
                suggestion_confidence=sa.bindparam("_c"))
    )  # fmt: skip
    after = ""
    while True:
        rows = conn.execute(
            sa.select(lead.c.id, lead.c.suggestion)
            .where(lead.c.id > after, lead.c.suggestion.is_not(None))
            .order_by(lead.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        out = []
        for lead_id, suggestion in rows:
            sent, listed, confidence = _columns(suggestion)
            out.append({"_id": lead_id, "_sent": sent, "_list": listed, "_c": confidence})
        conn.execute(update, out)
        after = rows[-1][0]


def _backfill_sql() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "UPDATE lead SET suggestion_sent = json_remove(suggestion, '$.model'), "
            "suggestion_list = json_array(json_extract(suggestion, '$.outcome'), "
            "json_extract(suggestion, '$.reason'), json_extract(suggestion, '$.confidence'), "
            "CASE WHEN json_type(suggestion, '$.factors') = 'array' "
            "THEN json(json_extract(suggestion, '$.factors')) ELSE json('[]') END), "
            "suggestion_confidence = CASE WHEN json_type(suggestion, '$.confidence') "
            "IN ('real', 'integer') THEN json_extract(suggestion, '$.confidence') END "
            "WHERE json_type(suggestion) = 'object'"
        )
    else:
        op.execute(
            "UPDATE lead SET suggestion_sent = (suggestion::jsonb - 'model')::text, "
            "suggestion_list = jsonb_build_array(suggestion::jsonb -> 'outcome', "
            "suggestion::jsonb -> 'reason', suggestion::jsonb -> 'confidence', "
            "CASE WHEN jsonb_typeof(suggestion::jsonb -> 'factors') = 'array' "
            "THEN suggestion::jsonb -> 'factors' ELSE '[]'::jsonb END)::text, "
            "suggestion_confidence = CASE WHEN jsonb_typeof(suggestion::jsonb -> 'confidence') "
            "= 'number' THEN (suggestion::jsonb ->> 'confidence')::float END "
            "WHERE jsonb_typeof(suggestion::jsonb) = 'object'"
        )


def downgrade() -> None:
    op.drop_column("lead", "suggestion_confidence")
    op.drop_column("lead", "suggestion_list")
    op.drop_column("lead", "suggestion_sent")
