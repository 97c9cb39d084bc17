"""The outbox: numbering mutations for a push, and applying the server's answers."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from triage import domain
from triage.domain import Status
from triage.store.common import (
    _chunks,
    _marks,
)
from triage.store.records import (
    OutboxItem,
    PendingCounts,
    PushResult,
)


def _what_it_did(row: tuple | None, lead: domain.Lead | None, actor: str | None) -> str:
    """A `duplicate` answer without `stored` (an older or buggy server): applied when the
    server's lead shows this mutation's effect, else "unknown" (never taken for applied:
    a refusal would vanish)."""
    if row is None or lead is None:
        return "unknown"
    _row_id, _lead_id, kind, payload_json, _action_id, _name = row
    payload = json.loads(payload_json)
    if kind == "decide":
        d = lead.decision
        same = d is not None and d.outcome.value == payload["outcome"] and d.by == actor
        return "applied" if same else "unknown"
    if kind == "reopen":
        return "applied" if lead.status is Status.OPEN else "unknown"
    wanted = payload.get("bant") or {}
    return "applied" if all(lead.bant.get(k) == v for k, v in wanted.items()) else "unknown"


def _with_origin(payload: str, client_id: str, number: int) -> str:
    """A decide's payload naming its identity, `client_id:number`, as its `origin`."""
    return json.dumps({**json.loads(payload), "origin": {"client_id": client_id, "seq": number}})


# The rows in flight (numbered, unanswered), by their numbers: they come back first.
_IN_FLIGHT = "SELECT id, seq, lead_id, type, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?"
# Then new rows in the order made (a compensation that waited is numbered after rows made
# later on other leads). A compensation whose row is still unanswered waits, and so does
# everything after it on the same lead (a decision made again after the undo must follow
# the undo). Read in id order and stopped at the limit: never the whole outbox sorted.
# `+c.seq`: never look the compensations up by the seq index. Once the file has statistics
# (PRAGMA optimize at close), SQLite takes `seq IS NULL` on that UNIQUE index for one row,
# when it is every unsent row: each of 10,000 rows then scanned the other 10,000 (11 s a
# call, 4 minutes a sync); by the lead's index it is a row or two.
_NEXT_NEW = (
    "SELECT id, seq, lead_id, type, payload FROM outbox o WHERE +o.seq IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM outbox c JOIN outbox t ON t.id = c.compensates "
    "WHERE c.lead_id = o.lead_id AND c.id <= o.id AND +c.seq IS NULL) "
    "ORDER BY o.id LIMIT ?"
)


def _next_rows(conn: sqlite3.Connection, limit: int, after: int) -> list[tuple]:
    rows = conn.execute(_IN_FLIGHT, (after, limit)).fetchall()
    if len(rows) < limit:
        rows += conn.execute(_NEXT_NEW, (limit - len(rows),)).fetchall()
    return rows


def _items(rows: list[tuple]) -> list[OutboxItem]:
    return [OutboxItem(r[1], r[2], r[3], json.loads(r[4])) for r in rows]


class OutboxMixin:
    """What waits to be sent, and the answers to it."""

    def pending(self, limit: int = 500, *, after: int = 0) -> list[OutboxItem]:
        """The next outbox rows to push, in seq order. A row handed out for the first
        time gets its seq now (the next number, no gaps); a row already handed out
        keeps its seq and comes back until the server answers it. An undo's compensation
        is not handed out before the row it compensates is answered. `after`: only rows
        handed out after that seq, and new ones (the rows up to it are in flight)."""
        with self._lock:
            with self._read() as conn:
                rows = _next_rows(conn, limit, after)
            if any(r[1] is None for r in rows):
                with self._write() as conn:
                    rows = self._hand_out(conn, limit, after)
            self._handed.update(r[1] for r in rows)
        return _items(rows)

    def _hand_out(self, conn: sqlite3.Connection, limit: int, after: int) -> list[tuple]:
        """The next rows (see pending), those new numbered now, in this transaction."""
        rows = _next_rows(conn, limit, after)
        if not any(r[1] is None for r in rows):
            return rows
        next_seq = int(self._meta(conn, "next_seq") or 1)
        used = self._numbers_used(conn, next_seq)
        client_id = self._meta(conn, "client_id")
        assigned, originated = [], []
        for i, (row_id, seq, lead_id, kind, payload) in enumerate(rows):
            if seq is None:
                seq, next_seq = next_seq, next_seq + 1
                if kind == "decide" and seq <= used and '"origin"' not in payload:
                    # After a restore this number named another decision once: its own
                    # identity is a number never used (the server takes it as `origin`).
                    used += 1
                    payload = _with_origin(payload, client_id, used)
                    originated.append((payload, row_id))
                used = max(used, seq)
                assigned.append((seq, row_id))
                rows[i] = (row_id, seq, lead_id, kind, payload)
        conn.executemany("UPDATE outbox SET seq = ? WHERE id = ?", assigned)
        conn.executemany("UPDATE outbox SET payload = ? WHERE id = ?", originated)
        self._set_meta(conn, "next_seq", next_seq)
        self._set_meta(conn, "numbers_used", used)
        self._remember_decision_ids(conn, [r for r in rows if r[3] == "decide"])
        return rows

    def _numbers_used(self, conn: sqlite3.Connection, next_seq: int) -> int:
        """The highest number this client has ever given a mutation or a decision. A
        restored server makes the client number mutations again from what it knows (see
        renumber_unanswered), but a decision's identity ("client_id:seq") is for ever:
        feedback and webhook consumers dedupe by it. Kept in meta; a store from before
        it was kept finds it in its outbox and its journal's decision ids."""
        kept = self._meta(conn, "numbers_used")
        if kept is not None:
            return max(int(kept), next_seq - 1)
        client_id = self._meta(conn, "client_id") or ""
        prefix = f"{client_id}:"
        journal = conn.execute(
            "SELECT max(CAST(substr(decision_id, ?) AS INTEGER)) FROM action_leads "
            "WHERE substr(decision_id, 1, ?) = ?",
            (len(prefix) + 1, len(prefix), prefix),
        ).fetchone()[0]
        outbox = conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
        return max(next_seq - 1, journal or 0, outbox or 0)

    def _remember_decision_ids(self, conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
        """A decision's identity is the client id and seq of its first sending (or the
        `origin` it carries when sent again): the journal keeps it, for an undo to name
        the decision it undoes and for a heal to send it again as the same decision."""
        client_id = self._meta(conn, "client_id")
        updates = []
        for row_id, seq, lead_id, _kind, payload in rows:
            origin = json.loads(payload).get("origin") if '"origin"' in payload else None
            decision_id = (
                f"{origin['client_id']}:{origin['seq']}" if origin else f"{client_id}:{seq}"
            )
            updates.append((decision_id, row_id, lead_id))
        conn.executemany(
            "UPDATE action_leads SET decision_id = ? WHERE decision_id IS NULL AND lead_id = ? "
            "AND action_id = (SELECT action_id FROM outbox WHERE id = ?)",
            [(d, lead_id, row_id) for d, row_id, lead_id in updates],
        )

    def pending_count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def pending_counts(self) -> PendingCounts:
        """The outbox by kind: decisions (decide, reopen) and BANT answers."""
        with self._read() as conn:
            by_type = dict(conn.execute("SELECT type, count(*) FROM outbox GROUP BY type"))
        return PendingCounts(
            decisions=by_type.get("decide", 0) + by_type.get("reopen", 0),
            answers=by_type.get("bant", 0),
        )

    def apply_push_results(
        self,
        results: Sequence[PushResult],
        *,
        last_seq: int | None = None,
        then: tuple[int, int] | None = None,
    ) -> list[OutboxItem]:
        """Apply the server's answers to a push, in one transaction; with `then` (after,
        limit), hand out the next rows in the same one and return them (see pending).

        applied: the row goes; the lead sent back becomes the server state (or, with a
        patch, the server state as stored with what the mutation changed).
        duplicate: as what was stored the first time (applied, conflict or invalid).
        conflict / invalid: the row goes and becomes a conflicts row (with the
        server's lead if sent); the view shows the server's state again.
        out_of_order (or anything else): the row stays, to be pushed again.
        """
        now = time.time()
        with self._write() as conn:
            rows = self._rows_by_seq(conn, [r.seq for r in results])
            done = _Answered()
            actor = self._actor(conn)
            for result in results:
                self._take_answer(conn, result, rows, actor, done, now)
            if done.answered_before:
                known = self._existing(conn, [lead.id for lead in done.answered_before])
                done.server_states += [x for x in done.answered_before if x.id in known]
                done.touched += [x.id for x in done.answered_before if x.id in known]
            self._patch_server_leads(conn, done.patches)
            self._put_server_leads(conn, done.server_states)
            # An undo of a refused mutation undoes nothing: its compensation goes too.
            conn.executemany("DELETE FROM outbox WHERE compensates = ?", done.refused)
            conn.executemany("DELETE FROM outbox WHERE id = ?", done.deleted)
            conn.executemany(
                "UPDATE action_leads SET result = ? WHERE action_id = ? AND lead_id = ?",
                done.results_by_action,
            )
            self._recompute(conn, done.touched)
            if last_seq is not None:
                self._note_last_seq(conn, last_seq)
            handed = [] if then is None else self._hand_out(conn, then[1], then[0])
        self._handed.update(r[1] for r in handed)
        return _items(handed)

    @staticmethod
    def _rows_by_seq(conn: sqlite3.Connection, seqs: Sequence[int]) -> dict[int, tuple]:
        """seq -> its outbox row and the lead's name (None: the lead is gone)."""
        rows: dict[int, tuple] = {}
        for chunk in _chunks(seqs):
            for row in conn.execute(
                "SELECT o.seq, o.id, o.lead_id, o.type, o.payload, o.action_id, l.name "
                "FROM outbox o LEFT JOIN leads l ON l.id = o.lead_id "
                f"WHERE o.seq IN ({_marks(len(chunk))})",
                chunk,
            ):
                rows[row[0]] = row[1:]
        return rows

    def _take_answer(
        self,
        conn: sqlite3.Connection,
        result: PushResult,
        rows: dict[int, tuple],
        actor: str | None,
        done: _Answered,
        now: float,
    ) -> None:
        """One answer: its row goes (a refusal becomes a card), its lead's state is kept."""
        status, error = result.status, result.error
        if status == "duplicate":
            status = result.stored or _what_it_did(rows.get(result.seq), result.lead, actor)
            if status == "unknown":  # a server that does not say: the rep looks
                status, error = "conflict", "unknown_outcome"
        if status not in ("applied", "conflict", "invalid"):
            return  # out_of_order: the row stays, to be pushed again
        lead = result.lead
        row = rows.pop(result.seq, None)
        if row is None:  # answered before: only keep the newer server state
            if lead is not None:
                done.answered_before.append(lead)
            return
        row_id, lead_id, kind, payload, action_id, name = row
        present = name is not None
        if lead is not None and lead.id == lead_id and present:
            done.server_states.append(lead)
        elif result.patch is not None and result.patch.id == lead_id and present:
            done.patches.append(result.patch)
        done.deleted.append((row_id,))
        done.results_by_action.append((status, action_id, lead_id))
        if status != "applied":
            done.refused.append((row_id,))
            self._add_conflict(
                conn, lead_id=lead_id, lead_name=name or (lead.name if lead else None),
                seq=result.seq, status=status, error=error, server_lead=lead,
                kind=kind, payload=payload, now=now,
            )  # fmt: skip
        if present:
            done.touched.append(lead_id)


@dataclass
class _Answered:
    """What one push's answers change, written together at the end."""

    server_states: list[domain.Lead] = field(default_factory=list)
    patches: list[domain.LeadState] = field(default_factory=list)
    answered_before: list[domain.Lead] = field(default_factory=list)
    deleted: list[tuple[int]] = field(default_factory=list)
    refused: list[tuple[int]] = field(default_factory=list)
    results_by_action: list[tuple[str, str, str]] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
