"""Counts for the status bar, the conflicts list, and the file's health."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime

from triage import domain
from triage.store.common import (
    _utc,
)
from triage.store.records import (
    ActionError,
    ConflictEntry,
    StoreError,
    StoreStatus,
)


class StatusMixin:
    """Status, conflicts and checks."""

    def status(self, now: datetime | None = None) -> StoreStatus:
        """Counts for the status bar. `decided_today`: since local midnight, not undone."""
        local = (now or domain.utcnow()).astimezone()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        with self._read() as conn:
            pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            conflicts = conn.execute(
                "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL"
            ).fetchone()[0]
            open_ = conn.execute("SELECT count(*) FROM leads WHERE status = 'open'").fetchone()[0]
            decided = conn.execute(
                "SELECT coalesce(sum(count), 0) FROM actions "
                "WHERE created_at >= ? AND kind = 'decide' AND undone_at IS NULL",
                (midnight,),
            ).fetchone()[0]
            last_sync = self._meta(conn, "last_sync")
            last_error = self._meta(conn, "last_error")
        return StoreStatus(
            pending=pending,
            conflicts=conflicts,
            open=open_,
            decided_today=decided,
            last_sync=domain.parse_time(last_sync) if last_sync else None,
            last_error=last_error,
        )

    def conflicts(self) -> list[ConflictEntry]:
        """Unresolved conflicts, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, lead_id, lead_name, seq, status, error, server_json, mutation, "
                "created_at FROM conflicts WHERE resolved_at IS NULL ORDER BY id"
            ).fetchall()
        return [
            ConflictEntry(
                id=r[0],
                lead_id=r[1],
                lead_name=r[2],
                seq=r[3],
                status=r[4],
                error=r[5],
                server_lead=domain.lead_from_dict(json.loads(r[6])) if r[6] else None,
                mutation=json.loads(r[7]),
                created_at=_utc(r[8]),
            )  # fmt: skip
            for r in rows
        ]

    def resolve_conflict(self, conflict_id: int) -> None:
        """Mark a conflict as seen by the rep (it leaves conflicts())."""
        with self._write() as conn:
            row = conn.execute("SELECT 1 FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
            if row is None:
                raise ActionError("unknown_conflict", f"no conflict #{conflict_id}")
            conn.execute(
                "UPDATE conflicts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
                (time.time(), conflict_id),
            )

    def data_version(self) -> int:
        """SQLite's PRAGMA data_version on this instance's connection: it changes when
        another connection (another process, or another Store on the same file) commits,
        not for this instance's own commits. A few microseconds: cheap to poll."""
        with self._lock:
            try:
                return int(self._connection().execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: database error: {exc}") from exc

    def integrity_check(self) -> str:
        """PRAGMA integrity_check: "ok" when the file is sound."""
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(r[0] for r in rows)
