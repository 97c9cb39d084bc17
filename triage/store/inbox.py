"""Applying what a pull brings: leads, revocations, the cursor, the server's last seq."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from triage import domain
from triage.store.common import (
    _chunks,
    _marks,
)
from triage.store.records import (
    PullApplied,
)


class InboxMixin:
    """Pulled pages, applied whole."""

    def _revoke(
        self, conn: sqlite3.Connection, revoked: Sequence[str], now: float
    ) -> tuple[int, int]:
        """Leads no longer the rep's leave the store. Their changes never sent become
        not_assigned conflicts; a change already handed out stays until its answer.
        Returns (leads removed, conflicts made)."""
        removed = conflicts = 0
        for chunk in _chunks(list(dict.fromkeys(revoked))):
            marks = _marks(len(chunk))
            names = dict(conn.execute(f"SELECT id, name FROM leads WHERE id IN ({marks})", chunk))
            # An undo waiting for its decision's answer is no card of its own: the
            # decision's answer (not_assigned) says it all.
            conn.execute(
                f"DELETE FROM outbox WHERE lead_id IN ({marks}) AND seq IS NULL "
                "AND compensates IS NOT NULL",
                chunk,
            )
            unsent = conn.execute(
                f"SELECT id, lead_id, type, payload, action_id FROM outbox "
                f"WHERE lead_id IN ({marks}) AND seq IS NULL ORDER BY id",
                chunk,
            ).fetchall()
            for _row_id, lead_id, kind, payload, _action_id in unsent:
                self._add_conflict(
                    conn, lead_id=lead_id, lead_name=names.get(lead_id), seq=None,
                    status="conflict", error="not_assigned", server_lead=None,
                    kind=kind, payload=payload, now=now,
                )  # fmt: skip
            conflicts += len(unsent)
            conn.executemany(
                "UPDATE action_leads SET result = 'revoked' WHERE action_id = ? AND lead_id = ?",
                [(r[4], r[1]) for r in unsent],
            )
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in unsent])
            removed += conn.execute(f"DELETE FROM leads WHERE id IN ({marks})", chunk).rowcount
            conn.execute(f"DELETE FROM lead_server WHERE id IN ({marks})", chunk)
        return removed, conflicts

    def apply_pull(
        self,
        leads: list[domain.Lead],
        revoked: list[str],
        cursor: int,
        *,
        reset: bool = False,
        last_seq: int | None = None,
        digest: str | None = None,
        texts: Sequence[str | None] = (),
    ) -> PullApplied:
        """Apply one pulled page and save its cursor (and the server's digest of the change
        at it, to present next time), in one transaction.

        Pulled leads become the server state; their view is recomputed with their
        pending mutations on top, so a pull never undoes what the rep just did.
        `reset`: the server could not serve our cursor; server state of leads without
        pending mutations is dropped first (the outbox is kept).
        `revoked`: those leads leave the store; their mutations never sent become
        conflicts (not_assigned). One already handed out for pushing stays in the
        outbox until the server answers it: dropping it would leave a hole in the
        seqs, and every later mutation would be answered out_of_order.
        `last_seq` (the server's last processed seq for this client): outbox rows up
        to it were processed and their answer lost; they are dropped. Pass it with
        the last page of a pull, when the changes it covers have all been pulled.
        Only rows numbered before this instance was opened, or handed out by it, are
        dropped: a row another connection to the file (a second sync) has numbered
        since may be in flight, its answer (a conflict, perhaps) about to be recorded
        there; it stays until that answer, or the next push's duplicate, settles it.
        `texts`: the first leads' JSON as the sync checked it (protocol.lead_json), kept as
        their server state as it is (see _put_server_leads).
        """
        now = time.time()
        with self._write() as conn:
            dropped = self._drop_for_reset(conn) if reset else 0
            removed, conflicts = self._revoke(conn, revoked, now)
            written = self._put_server_leads(conn, leads, force=reset, texts=texts)
            self._recompute(conn, self._ids_with_outbox(conn, written))
            processed = 0
            if last_seq is not None:
                processed, more = self._drop_processed(conn, last_seq, now)
                conflicts += more
                self._note_last_seq(conn, last_seq)
            self._set_meta(conn, "cursor", cursor)
            self._set_meta(conn, "cursor_digest", digest)
        return PullApplied(len(written), removed, conflicts, processed, dropped)

    @staticmethod
    def _drop_for_reset(conn: sqlite3.Connection) -> int:
        """Before a pull from the start: server state of leads with no pending change goes
        (the outbox is kept). Returns how many leads went."""
        dropped = conn.execute(
            "DELETE FROM leads WHERE NOT EXISTS "
            "(SELECT 1 FROM outbox WHERE outbox.lead_id = leads.id)"
        ).rowcount
        conn.execute(
            "DELETE FROM lead_server WHERE NOT EXISTS "
            "(SELECT 1 FROM leads WHERE leads.id = lead_server.id)"
        )
        return dropped

    def _drop_processed(
        self, conn: sqlite3.Connection, last_seq: int, now: float
    ) -> tuple[int, int]:
        """Outbox rows up to the server's `last_seq` were processed (their answer lost):
        they go; one whose lead was revoked meanwhile becomes a not_assigned card. Only
        rows numbered before this instance was opened, or handed out by it (see
        apply_pull). Returns (rows dropped, cards made)."""
        done = conn.execute(
            "SELECT o.id, o.lead_id, o.seq, o.type, o.payload, o.action_id, "
            "l.id IS NOT NULL FROM outbox o LEFT JOIN leads l ON l.id = o.lead_id "
            "WHERE o.seq IS NOT NULL AND o.seq <= ? ORDER BY o.id",
            (last_seq,),
        ).fetchall()
        done = [r for r in done if r[2] < self._opened_at_seq or r[2] in self._handed]
        cards = 0
        for _row_id, lead_id, seq, kind, payload, _action, present in done:
            if not present:  # its lead was revoked while it was unanswered
                self._add_conflict(
                    conn, lead_id=lead_id, lead_name=None, seq=seq, status="conflict",
                    error="not_assigned", server_lead=None, kind=kind, payload=payload, now=now,
                )  # fmt: skip
                cards += 1
        conn.executemany(
            "UPDATE action_leads SET result = CASE WHEN ? THEN 'processed' "
            "ELSE 'revoked' END WHERE action_id = ? AND lead_id = ?",
            [(r[6], r[5], r[1]) for r in done],
        )
        conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in done])
        self._recompute(conn, [r[1] for r in done if r[6]])
        return len(done), cards
