"""Imports from marketing's systems: a lead's `attributes` (the columns of marketing's file
no import map placed, typed) and `duplicate_of` (the open lead with the same email when it
was imported); `score` may be NULL (no score: an import left it empty; it was 0 before).

Existing leads keep their scores (an earlier missing score stays 0) and get no attributes.

On SQLite the NOT NULL of `score` is dropped by rewriting the table's definition in place,
the way SQLite documents for removing a NOT NULL constraint (lang_altertable.html, "making
other kinds of table schema changes"): the rows on disk do not change. A copy of the table
(Alembic's batch mode) cannot be used here: dropping `lead` with foreign keys on would fail
on the events and revocations that point at it.

Revision ID: 0007_import_attributes
Revises: 0006_workspace
Create Date: 2026-12-03
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0007_import_attributes"
down_revision = "0006_workspace"
branch_labels = None
depends_on = None

_SCORE_NOT_NULL = re.compile(r"(\bscore\s+INTEGER)\s+NOT\s+NULL", re.IGNORECASE)


def _sqlite_score_nullable(nullable: bool) -> None:
    if op.get_context().as_sql:  # offline: the statements, for a DBA to run
        old, new = ("score INTEGER NOT NULL", "score INTEGER")[:: 1 if nullable else -1]
        op.execute("PRAGMA writable_schema = ON")
        op.execute(
            f"UPDATE sqlite_master SET sql = replace(sql, '{old}', '{new}') "
            "WHERE type = 'table' AND name = 'lead'"
        )
        op.execute("PRAGMA writable_schema = OFF")
        op.execute("-- then close every connection to the database (the schema was rewritten)")
        return
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'lead'"
    ).scalar_one()
    if nullable:
        new, found = _SCORE_NOT_NULL.subn(r"\1", sql)
    else:
        new, found = re.subn(r"(\bscore\s+INTEGER)(?!\s+NOT)", r"\1 NOT NULL", sql, flags=re.I)
    if found != 1:
        raise RuntimeError(f"lead.score: unexpected definition in {sql!r}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'lead'", (new,)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.add_column("lead", sa.Column("attributes", sa.JSON(), nullable=True))
    op.add_column("lead", sa.Column("duplicate_of", sa.JSON(), nullable=True))
    if op.get_context().dialect.name == "sqlite":
        _sqlite_score_nullable(True)
    else:
        op.alter_column("lead", "score", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE lead SET score = 0 WHERE score IS NULL")
    if op.get_context().dialect.name == "sqlite":
        _sqlite_score_nullable(False)
    else:
        op.alter_column("lead", "score", existing_type=sa.Integer(), nullable=False)
    op.drop_column("lead", "duplicate_of")
    op.drop_column("lead", "attributes")
