"""Sync state and who the queue belongs to: the client id, the rep, the server, the policy."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from triage import domain
from triage.store.common import (
    _dumps,
)
from triage.store.records import (
    SyncState,
)


class MetaMixin:
    """Sync state, the rep, the server and the cached policy."""

    def client_id(self) -> str:
        with self._read() as conn:
            value = self._meta(conn, "client_id")
        assert value is not None
        return value

    def sync_state(self) -> SyncState:
        with self._read() as conn:
            m = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        last_sync = m.get("last_sync")
        return SyncState(
            cursor=int(m.get("cursor") or 0),
            last_seq=int(m.get("last_seq") or 0),
            last_sync=domain.parse_time(last_sync) if last_sync else None,
            last_error=m.get("last_error"),
            policy_version=int(m.get("policy_version") or 0),
            cursor_digest=m.get("cursor_digest"),
            acked_seq=int(m.get("acked_seq") or 0),
            healing=bool(m.get("healing")),
            server_id=m.get("server_id"),
            epoch=int(m["epoch"]) if m.get("epoch") else None,
        )

    def set_me(self, email: str, name: str, role: str) -> None:
        with self._write() as conn:
            self._set_meta(conn, "me", _dumps({"email": email, "name": name, "role": role}))

    def me(self) -> dict[str, str] | None:
        with self._read() as conn:
            value = self._meta(conn, "me")
        return None if value is None else json.loads(value)

    def policy(self) -> domain.Policy:
        """The cached policy; domain.DEFAULT_POLICY until the server's has been saved."""
        with self._read() as conn:
            return self._policy(conn)

    def _policy(self, conn: sqlite3.Connection) -> domain.Policy:
        value = self._meta(conn, "policy")
        if value is None:
            return domain.DEFAULT_POLICY
        try:
            return domain.Policy.from_dict(json.loads(value))
        except (ValueError, domain.PolicyError):
            return domain.DEFAULT_POLICY

    def save_policy(self, policy: domain.Policy) -> None:
        with self._write() as conn:
            self._set_meta(conn, "policy", _dumps(policy.to_dict()))
            self._set_meta(conn, "policy_version", policy.version)

    def record_sync(self, *, ok: bool, error: str | None, at: datetime) -> None:
        """After a sync attempt: success sets last_sync and clears last_error; failure
        records the error and keeps last_sync."""
        with self._write() as conn:
            if ok:
                self._set_meta(conn, "last_sync", domain.format_time(at))
                self._set_meta(conn, "last_error", None)
            else:
                self._set_meta(conn, "last_error", error or "sync failed")

    def has_unnumbered(self) -> bool:
        """Are there outbox rows that pending() has not numbered yet?"""
        with self._read() as conn:
            return bool(
                conn.execute("SELECT EXISTS (SELECT 1 FROM outbox WHERE seq IS NULL)").fetchone()[0]
            )

    def note_server_last_seq(self, last_seq: int) -> None:
        """Record the server's last processed seq for this client, before numbering new rows."""
        with self._write() as conn:
            self._note_last_seq(conn, last_seq)

    def _note_last_seq(self, conn: sqlite3.Connection, last_seq: int) -> None:
        self._set_meta(conn, "last_seq", last_seq)
        if last_seq > int(self._meta(conn, "acked_seq") or 0):
            self._set_meta(conn, "acked_seq", last_seq)
        # The server has processed more than this file ever handed out (the file was
        # restored from a backup): number new mutations after it, or they would be
        # taken for duplicates and never applied.
        if last_seq >= int(self._meta(conn, "next_seq") or 1):
            self._set_meta(conn, "next_seq", last_seq + 1)

    def remember_server(self, server_id: str | None, epoch: int | None) -> None:
        """The server this queue belongs to, and the epoch of its history as seen now."""
        with self._write() as conn:
            if server_id is not None and self._meta(conn, "server_id") is None:
                self._set_meta(conn, "server_id", server_id)
            if epoch is not None:
                self._set_meta(conn, "epoch", epoch)
