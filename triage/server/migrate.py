"""The server's schema: Alembic migrations (triage/server/migrations), run under a lock.

Every server command opens the database through `upgrade()`, so any number of
`triage server run` processes may start at once on an empty, an old or a current
database: the first takes the lock (BEGIN IMMEDIATE on SQLite, a transaction-scoped
advisory lock on PostgreSQL) and migrates; the others wait, then find nothing to do.
The migrations also seed what must exist exactly once (the change counter's row,
the server's identity), so no process races to insert it.

A database made by release 0.1.0 (`create_all`, no `alembic_version`) is stamped
with the baseline revision, then upgraded. A database from a newer triage is
refused: this code does not know its schema.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from triage.server.db import Database

SCRIPTS = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"
LEGACY_TABLE = "lead"  # a 0.1.0 database has it, and no alembic_version


class SchemaError(Exception):
    """The database's schema cannot be used by this triage; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Migration:
    before: str | None  # the revision found (None: no schema, or a 0.1.0 database)
    after: str
    applied: tuple[str, ...]  # revisions run, oldest first
    created: bool  # the database had no schema at all
    stamped: bool  # a 0.1.0 database, recognised and stamped as the baseline

    def describe(self, where: str) -> str:
        if not self.applied and not self.stamped:
            return f"{where}: schema at {self.after} (current)"
        if self.created:
            return f"{where}: no schema yet; created it ({', '.join(self.applied)})"
        start = f"{BASELINE} (a release 0.1.0 database)" if self.stamped else self.before
        return f"{where}: schema upgraded from {start} to {self.after} ({', '.join(self.applied)})"


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(SCRIPTS))


def head() -> str:
    found = scripts().get_current_head()
    assert found is not None
    return found


def _config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    cfg = Config(output_buffer=io.StringIO())
    cfg.set_main_option("script_location", str(SCRIPTS))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _found(conn: Connection) -> tuple[str | None, bool]:
    """(the revision stamped in the database, whether it has a 0.1.0-era schema)."""
    current = MigrationContext.configure(conn).get_current_revision()
    legacy = current is None and inspect(conn).has_table(LEGACY_TABLE)
    return current, legacy


def _check_known(current: str | None, where: str) -> None:
    if current is not None and current not in {s.revision for s in scripts().walk_revisions()}:
        raise SchemaError(
            f"{where}: the database's schema ({current}) is newer than this triage knows "
            f"(up to {head()}); upgrade triage, or point --db at another database"
        )


def _pending(current: str | None, target: str) -> tuple[str, ...]:
    revs = scripts().iterate_revisions(target, current)  # newest first
    return tuple(reversed([r.revision for r in revs]))


def upgrade(db: Database, target: str = "head") -> Migration:
    """Bring the schema to `target` under the migration lock; safe to run concurrently."""
    with db.migration_lock() as conn:
        current, legacy = _found(conn)
        _check_known(current, db.shown_url)
        cfg = _config(conn)
        start = current
        if legacy:
            command.stamp(cfg, BASELINE)
            start = BASELINE
        goal = head() if target == "head" else target
        applied = _pending(start, goal) if start != goal else ()
        if applied:
            command.upgrade(cfg, goal)
        return Migration(current, goal, applied, current is None and not legacy, legacy)


def current(db: Database) -> str | None:
    """The revision the database is at (BASELINE for a 0.1.0 database, None when empty)."""
    with db.write_engine.connect() as conn:
        found, legacy = _found(conn)
        conn.rollback()
    return BASELINE if legacy else found


def upgrade_sql(db: Database) -> str:
    """The SQL `upgrade()` would run on this database, without running it."""
    found = current(db)
    _check_known(found, db.shown_url)
    with db.write_engine.connect() as conn:
        legacy = _found(conn)[1]
        conn.rollback()
    if found == head():
        return f"-- {db.shown_url}: schema at {found} (current); nothing to run\n"
    cfg = _config(url=db.url)
    start = f"{found}:" if found else ""
    command.upgrade(cfg, f"{start}head", sql=True)
    note = (
        f"-- a release 0.1.0 database: it is first stamped as {BASELINE} (no table changes)\n"
        if legacy
        else ""
    )
    buffer = cfg.output_buffer
    assert isinstance(buffer, io.StringIO)
    return note + buffer.getvalue()
