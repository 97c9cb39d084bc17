"""Opening the store, its transactions and its key-value meta table."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from triage.config import ensure_private_db_file, ensure_private_dir
from triage.store.common import _CACHE_KIB
from triage.store.records import (
    StoreError,
)
from triage.store.schema import _MIGRATIONS, SCHEMA_VERSION, _inspect


class StoreBase:
    """The connection, its transactions, and meta. The other parts are mixins over it."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        # The seqs a pull's last_seq may drop (see apply_pull): those numbered before this
        # instance was opened, and those it handed out itself.
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        self._opened_at_seq = int(row[0]) if row and row[0] else 1
        self._handed: set[int] = set()

    @classmethod
    def open(cls, path: Path | str) -> Self:
        """Open the store at `path`, creating directories, file and schema, migrating forward.

        The directory is made 0700 and the file 0600 (and SQLite's -wal and -shm with it),
        whatever the umask; looser ones are taken back to that: they hold leads, phone
        numbers and notes. Raises StoreError, changing nothing, for a file that is not a
        triage store.
        """
        path = Path(path).expanduser()
        try:
            ensure_private_dir(path.parent)
        except OSError as exc:
            raise StoreError(
                f"{path.parent}: cannot create the directory: {exc.strerror}"
            ) from None
        _inspect(path)
        try:
            ensure_private_db_file(path)
        except OSError as exc:
            raise StoreError(f"{path}: cannot make the database private: {exc.strerror}") from None
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA cache_size = {-_CACHE_KIB}")
            conn.execute("PRAGMA journal_size_limit = 67108864")  # a bulk action's WAL shrinks back
            cls._migrate(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path}: cannot prepare the database: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return cls(path, conn)

    @staticmethod
    def _migrate(conn: sqlite3.Connection, path: Path) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # read again under the write lock: another process may have migrated meanwhile
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path}: made by a newer triage; upgrade triage")
            for migrate in _MIGRATIONS[version:]:
                migrate(conn)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def defer_checkpoints(self) -> None:
        """This instance's commits no longer copy the write-ahead log into the database
        file. SQLite does that copy (and its fsync) inside the COMMIT that takes the log
        past 1,000 pages, so a bulk decision paid for it before the screen could show
        it; the owner now calls `checkpoint()` when the frame is drawn, off the UI thread.
        A commit is as durable either way (it is in the log, synced); other connections
        (`triage` commands, the sync worker) still checkpoint as they commit."""
        with self._lock:
            self._connection().execute("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file: a passive checkpoint, on a
        connection of its own, so it holds no lock of this instance and waits for no
        reader (what a reader still needs stays for the next one). For any thread."""
        try:
            # mode=rw: a file removed meanwhile is not made again, empty
            uri = self.path.resolve().as_uri() + "?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5)
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot checkpoint the database: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot start a write: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: database error: {exc}") from exc
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for a few reads (a deferred transaction)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: database error: {exc}") from exc

    @staticmethod
    def _meta(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, None if value is None else str(value)),
        )

    def _actor(self, conn: sqlite3.Connection) -> str | None:
        me = self._meta(conn, "me")
        return json.loads(me)["email"] if me else None
