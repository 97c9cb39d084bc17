"""Backups and restores of the server's database, and the change log's retention.

A restore takes the server's history back: changes made after the backup are gone, and
change numbers will be handed out again for other changes. Clients must learn of it, or
their cursors (and the last mutation number the server knows of them) lie. Three things
tell them:

- the epoch: `backup` writes the copy with the epoch raised by one, and `restore` sets
  the restored database's epoch above both the one it replaces and the backup's, so
  every client sees an epoch it has not seen and heals (refetches, sends again what the
  server lost of its own work);
- the change log's digests (`history_check`): a database put back by other means (a
  file copied back, a `pg_restore` by hand) hands out numbers again with new random
  digests, and a client's cursor no longer matches: the pull answers `reset`;
- the client's own mutations: a server whose last processed number for the client went
  down has lost some of them.

SQLite: the online backup API (a consistent copy while the server runs). PostgreSQL:
`pg_dump --format=custom` and `pg_restore --clean`, which must be on the PATH (the
PostgreSQL client tools); the restored database's epoch is raised afterwards.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url

from triage.config import ensure_private_db_file
from triage.server import models
from triage.server.db import Database, utcnow

CHANGELOG_DAYS = 90  # how long the change log keeps a row; an older cursor is answered reset


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Restored:
    replaced_epoch: int | None  # the epoch of the database that was replaced (None: none)
    backup_epoch: int
    epoch: int  # now


def _epoch_of_sqlite(path: Path) -> int | None:
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT epoch FROM serverinfo WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else int(row[0])


def _libpq(db: Database) -> tuple[str, str | None]:
    """The URL for pg_dump/pg_restore (no SQLAlchemy driver), and the schema a
    `options=-csearch_path=...` in the URL names (None: the whole database)."""
    url = make_url(db.url).set(drivername="postgresql")
    schema = None
    options = url.query.get("options")
    if isinstance(options, str) and "search_path=" in options:
        schema = options.split("search_path=", 1)[1].split()[0].split(",")[0]
    return url.render_as_string(hide_password=False), schema


def _run(argv: list[str], what: str) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupError(
            f"{argv[0]} is not on the PATH: install the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client) to {what}"
        )
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{argv[0]} failed: {message[-1] if message else done.returncode}")


def backup(db: Database, dest: Path) -> int:
    """Write a consistent copy of the database to `dest` (a new file); returns the epoch
    the copy carries (the live one plus one: restored, it tells clients so)."""
    if dest.exists():
        raise BackupError(f"{dest} exists already; choose a new file (nothing was written)")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a directory (nothing was written)")
    if db.is_sqlite:
        assert db.sqlite_path is not None, "an in-memory database has nothing to back up"
        ensure_private_db_file(dest)
        source = sqlite3.connect(db.sqlite_path)
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
            target.execute("UPDATE serverinfo SET epoch = epoch + 1 WHERE id = 1")
            target.commit()
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            epoch = target.execute("SELECT epoch FROM serverinfo WHERE id = 1").fetchone()[0]
        except BaseException:
            target.close()
            dest.unlink(missing_ok=True)
            raise
        finally:
            source.close()
        target.close()
        return int(epoch)
    url, schema = _libpq(db)
    argv = ["pg_dump", "--format=custom", "--no-owner", f"--file={dest}"]
    if schema:
        argv.append(f"--schema={schema}")
    _run([*argv, url], "back up a PostgreSQL database")
    os.chmod(dest, 0o600)
    with db.read() as s:
        return int(s.execute(select(models.ServerInfo.epoch)).scalar_one())


def restore(db: Database, source: Path) -> Restored:
    """Put the backup `source` in place of the database, and raise the epoch above both
    (stop every `triage server run` on this database first; start them again after)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    if db.is_sqlite:
        assert db.sqlite_path is not None
        backup_epoch = _epoch_of_sqlite(source)
        if backup_epoch is None:
            raise BackupError(f"{source}: not a backup of a triage server database")
        replaced = _epoch_of_sqlite(db.sqlite_path) if db.sqlite_path.exists() else None
        db.dispose()
        ensure_private_db_file(db.sqlite_path)
        src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
        dst = sqlite3.connect(db.sqlite_path)
        try:
            src.backup(dst)  # page by page, under the destination's lock; WAL included
            epoch = max(replaced or 0, backup_epoch) + 1
            dst.execute("UPDATE serverinfo SET epoch = ? WHERE id = 1", (epoch,))
            dst.commit()
        finally:
            src.close()
            dst.close()
        return Restored(replaced, backup_epoch, epoch)
    replaced = None
    try:
        with db.read() as s:
            replaced = s.execute(select(models.ServerInfo.epoch)).scalar_one_or_none()
    except Exception:  # nothing there yet, or not a triage database: nothing to keep above
        replaced = None
    db.dispose()
    url, schema = _libpq(db)
    argv = ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={url}"]
    if schema:
        argv.append(f"--schema={schema}")
    _run([*argv, str(source)], "restore a PostgreSQL database")
    with db.bookkeeping() as s:
        backup_epoch = s.execute(select(models.ServerInfo.epoch)).scalar_one()
        epoch = max(replaced or 0, backup_epoch) + 1
        s.execute(update(models.ServerInfo).where(models.ServerInfo.id == 1).values(epoch=epoch))
    return Restored(replaced, backup_epoch, epoch)


def prune_changelog(db: Database, keep_days: int = CHANGELOG_DAYS) -> int:
    """Drop change-log rows older than `keep_days` (never the newest). A client whose
    cursor points at a dropped row is answered `reset` and refetches its queue from the
    start, keeping its unsent work. Returns how many rows went."""
    cutoff = utcnow() - timedelta(days=keep_days)
    with db.bookkeeping() as s:
        newest = s.execute(select(func.max(models.ChangeLog.seq))).scalar()
        if newest is None:
            return 0
        return s.execute(
            delete(models.ChangeLog).where(
                models.ChangeLog.at < cutoff, models.ChangeLog.seq < newest
            )
        ).rowcount
