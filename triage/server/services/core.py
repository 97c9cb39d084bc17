"""Opening the database (migrated under a lock), the server's identity, readiness."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

from sqlmodel import Session

from triage import domain
from triage.server import migrate, models
from triage.server.db import Database, explain
from triage.server.services.common import (
    Identity,
)

READY_TIMEOUT = 1.0  # seconds: a database slower than this is not ready


class _ReadyCheck:
    """`db.ping()` in a thread of its own, waited for at most `timeout`.

    The request gives up after the timeout whatever the database's own busy or connect
    timeout; the check goes on in its daemon thread until the database answers or fails.
    One check at a time: a request that comes while one is running waits for that one,
    so a database that never answers cannot pile up threads.
    """

    def __init__(self, ping: Callable[[], None]):
        self._ping = ping
        self._lock = threading.Lock()
        self._running: tuple[threading.Thread, dict[str, BaseException | None]] | None = None

    def __call__(self, timeout: float) -> str | None:
        """None when the database answered in time, else what went wrong."""
        with self._lock:
            if self._running is None or not self._running[0].is_alive():
                box: dict[str, BaseException | None] = {}

                def check() -> None:
                    try:
                        self._ping()
                        box["error"] = None
                    except BaseException as exc:  # reported to the request, not raised
                        box["error"] = exc

                thread = threading.Thread(target=check, name="triage-ready", daemon=True)
                self._running = (thread, box)
                thread.start()
            thread, box = self._running
        thread.join(timeout)
        if thread.is_alive() or "error" not in box:
            return f"the database did not answer within {timeout:g} s"
        error = box["error"]
        return None if error is None else f"the database check failed: {explain(error)}"


class BackendCore:
    """The database and who this server is. The services are mixins over it."""

    def __init__(self, db: Database):
        self.db = db
        self.migration: migrate.Migration | None = None  # what open() did to the schema
        self._policy_cache: tuple[int, domain.Policy] | None = None
        self._identity: Identity | None = None
        self._ready_check = _ReadyCheck(lambda: self.db.ping())

    @classmethod
    def open(cls, url: str) -> Self:
        """Open the database at `url`, creating or upgrading its schema first (under a lock,
        so many processes may open one database at once). Raises SchemaError for a
        database made by a newer triage."""
        db = Database(url)
        try:
            migration = migrate.upgrade(db)
            backend = cls(db)
        except BaseException:
            db.dispose()
            raise
        backend.migration = migration
        return backend

    @property
    def identity(self) -> Identity:
        """The server's id (never changes) and history epoch, as read when it was opened."""
        if self._identity is None:
            with self.db.read() as s:
                self._identity = Identity(**self._here(s))
        return self._identity

    @staticmethod
    def _here(s: Session) -> dict[str, Any]:
        """Who answers, read in the answer's own transaction: server_id and epoch."""
        info = s.get(models.ServerInfo, 1)
        assert info is not None, "the schema migrations make this row"
        return {"server_id": info.server_id, "epoch": info.epoch}

    def current_epoch(self) -> int:
        """The epoch as the database says now (a restore changes it)."""
        with self.db.read() as s:
            return self._here(s)["epoch"]

    def ready(self, timeout: float = READY_TIMEOUT) -> str | None:
        """None when the database answers a small read within `timeout` seconds, else why
        not (for /v1/ready)."""
        return self._ready_check(timeout)

    def close(self) -> None:
        self.db.dispose()
