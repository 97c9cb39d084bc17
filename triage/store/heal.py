"""Healing a queue when the server's history went back (a restore)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

from triage import domain
from triage.domain import Status
from triage.store.common import (
    _dumps,
)
from triage.store.outbox import _with_origin
from triage.store.records import (
    Healed,
)


class HealMixin:
    """The steps of a heal, each one transaction."""

    def start_heal(self) -> None:
        with self._write() as conn:
            self._set_meta(conn, "healing", "1")
            self._set_meta(conn, "cursor", 0)
            self._set_meta(conn, "cursor_digest", None)

    def finish_heal(self, epoch: int | None) -> None:
        with self._write() as conn:
            self._set_meta(conn, "healing", None)
            if epoch is not None:
                self._set_meta(conn, "epoch", epoch)

    def renumber_unanswered(self, last_seq: int) -> int:
        """Number the outbox rows the server has not processed from its `last_seq` + 1 on,
        in the order they were numbered: a restored server knows fewer of this client's
        mutations, and would answer every later number out_of_order. Returns how many."""
        with self._write() as conn:
            next_seq = int(self._meta(conn, "next_seq") or 1)
            self._set_meta(conn, "numbers_used", self._numbers_used(conn, next_seq))
            client_id = self._meta(conn, "client_id")
            found = conn.execute(
                "SELECT id, seq, type, payload FROM outbox WHERE seq > ? ORDER BY seq",
                (last_seq,),
            ).fetchall()
            rows = [(row_id,) for row_id, *_ in found]
            # A decision keeps the identity of its first numbering (its origin from now on).
            conn.executemany(
                "UPDATE outbox SET payload = ? WHERE id = ?",
                [
                    (_with_origin(payload, client_id, seq), row_id)
                    for row_id, seq, kind, payload in found
                    if kind == "decide" and '"origin"' not in payload
                ],
            )
            # two steps, so that no number is held twice on the way (seq is UNIQUE)
            conn.executemany("UPDATE outbox SET seq = -seq WHERE id = ?", rows)
            conn.executemany(
                "UPDATE outbox SET seq = ? WHERE id = ?",
                [(last_seq + 1 + i, row_id) for i, (row_id,) in enumerate(rows)],
            )
            self._set_meta(conn, "next_seq", last_seq + 1 + len(rows))
            self._set_meta(conn, "last_seq", last_seq)
            self._set_meta(conn, "acked_seq", last_seq)
            self._handed.update(last_seq + 1 + i for i in range(len(rows)))
        return len(rows)

    def heal_candidates(self, since_days: float = 90) -> list[str]:
        """Leads whose server state a heal must know: those with pending changes, and those
        this rep decided (answered) in the last `since_days` days."""
        since = time.time() - since_days * 86400
        with self._read() as conn:
            ids = [r[0] for r in conn.execute("SELECT DISTINCT lead_id FROM outbox")]
            ids += [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT al.lead_id FROM action_leads al "
                    "JOIN actions a ON a.action_id = al.action_id "
                    "WHERE a.kind = 'decide' AND a.created_at >= ? "
                    "AND al.result IN ('applied', 'processed')",
                    (since,),
                )
            ]
        return list(dict.fromkeys(ids))

    def apply_heal(self, found: Sequence[domain.Lead], missing: Sequence[str]) -> Healed:
        """After a full pull from a restored server: its state of `found` (the rep's leads
        it still has, any status) becomes the server state; `missing` ones are no longer
        the rep's (revoked). A decision of this rep the server no longer has is queued
        again as the same decision (its origin), and an undo it lost likewise; each gets a
        card saying what happened. One transaction."""
        now = time.time()
        with self._write() as conn:
            lost = self._lost_with_the_lead(conn, list(missing), now)
            revoked, conflicts = self._revoke(conn, list(missing), now)
            conflicts += lost
            written = self._put_server_leads(conn, list(found), force=True)
            actor = self._actor(conn)
            deciding = _deciding(conn)
            resent = 0
            for lead in found:
                if lead.id in deciding:
                    resent += self._lost_undo_first(conn, lead, actor, now)
                    continue
                last = conn.execute(
                    "SELECT a.action_id, a.detail, a.undone_at, al.result, al.decision_id "
                    "FROM action_leads al JOIN actions a ON a.action_id = al.action_id "
                    "WHERE al.lead_id = ? AND a.kind = 'decide' "
                    "AND al.result IN ('applied', 'processed') ORDER BY a.id DESC LIMIT 1",
                    (lead.id,),
                ).fetchone()  # the last the server answered: a later one undone unsent is none
                if last is None:
                    continue
                action_id, detail_json, undone_at, _result, decision_id = last
                if undone_at is None:
                    if lead.status is not Status.OPEN:
                        continue  # it stands (this decision, or one made since elsewhere)
                    self._queue_decision_again(conn, action_id, lead, detail_json, decision_id)
                elif (lost := _undone_here(lead, actor, decision_id)) is not None:
                    self._queue(
                        conn, action_id, lead.id, "reopen", lead.version, None, now,
                        reopens=lost[0],
                    )  # fmt: skip
                else:
                    continue
                resent += 1
                self._add_conflict(
                    conn, lead_id=lead.id, lead_name=lead.name, seq=None, status="conflict",
                    error="server_restored", server_lead=lead,
                    kind="decide" if undone_at is None else "reopen",
                    payload=_dumps(json.loads(detail_json)), now=now,
                )  # fmt: skip
                conflicts += 1
            self._recompute(conn, written)
        return Healed(resent, revoked, conflicts)

    def _lost_with_the_lead(self, conn: sqlite3.Connection, missing: list[str], now: float) -> int:
        """Leads no longer the rep's on the restored server whose last decision by this
        rep was answered and stands here: the server may have lost it with the restore
        (then marketing reassigned the open lead), and it cannot be sent again for a lead
        that is someone else's. A card says so (not_assigned, the decision as it was), so
        the rep's decision is never dropped without a word. Returns the cards made."""
        made = 0
        for lead_id in missing:
            last = conn.execute(
                "SELECT a.detail, a.undone_at, al.result, l.name FROM action_leads al "
                "JOIN actions a ON a.action_id = al.action_id "
                "LEFT JOIN leads l ON l.id = al.lead_id "
                "WHERE al.lead_id = ? AND a.kind = 'decide' ORDER BY a.id DESC LIMIT 1",
                (lead_id,),
            ).fetchone()
            if last is None or last[1] is not None or last[2] not in ("applied", "processed"):
                continue
            self._add_conflict(
                conn, lead_id=lead_id, lead_name=last[3], seq=None, status="conflict",
                error="not_assigned", server_lead=None, kind="decide",
                payload=_dumps(json.loads(last[0])), now=now,
            )  # fmt: skip
            made += 1
        return made

    def _lost_undo_first(
        self, conn: sqlite3.Connection, lead: domain.Lead, actor: str | None, now: float
    ) -> int:
        """A lead with rows pending whose server state is the rep's own decision that the
        rep had undone (the restore lost the undo; a decision made since waits in the
        outbox): the undo goes again, ahead of those rows, or the new decision would meet
        the old one and be refused. Only while none of the rows has a number yet (those
        with one keep their place). Returns 1 if queued."""
        standing = lead.decision
        if standing is None or standing.by != actor or standing.id is None:
            return 0
        undone = conn.execute(
            "SELECT a.action_id, a.detail FROM action_leads al "
            "JOIN actions a ON a.action_id = al.action_id WHERE al.lead_id = ? "
            "AND a.kind = 'decide' AND a.undone_at IS NOT NULL AND al.decision_id = ? "
            "AND al.result IN ('applied', 'processed')",
            (lead.id, standing.id),
        ).fetchone()
        if undone is None:
            return 0
        rows = conn.execute(
            "SELECT id, seq, type, payload FROM outbox WHERE lead_id = ? ORDER BY id", (lead.id,)
        ).fetchall()
        if any(seq is not None for _, seq, _, _ in rows) or any(
            kind == "reopen" and json.loads(payload).get("reopens") == standing.id
            for _, _, kind, payload in rows
        ):
            return 0
        columns = [c[1] for c in conn.execute("PRAGMA table_info(outbox)") if c[1] != "id"]
        kept = conn.execute(
            f"SELECT {', '.join(columns)} FROM outbox WHERE lead_id = ? ORDER BY id", (lead.id,)
        ).fetchall()
        conn.execute("DELETE FROM outbox WHERE lead_id = ?", (lead.id,))
        self._queue(
            conn, undone[0], lead.id, "reopen", lead.version, None, now, reopens=standing.id
        )
        conn.executemany(
            f"INSERT INTO outbox ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            kept,
        )
        self._add_conflict(
            conn, lead_id=lead.id, lead_name=lead.name, seq=None, status="conflict",
            error="server_restored", server_lead=lead, kind="reopen", payload=undone[1], now=now,
        )  # fmt: skip
        return 1

    def _queue_decision_again(
        self,
        conn: sqlite3.Connection,
        action_id: str,
        lead: domain.Lead,
        detail_json: str,
        decision_id: str | None,
    ) -> None:
        detail = json.loads(detail_json)
        payload = {k: detail.get(k) for k in ("outcome", "reason", "note", "nurture_until", "at")}
        payload |= {"bant": None, "base_version": lead.version}
        if decision_id and ":" in decision_id:
            origin_client, origin_seq = decision_id.rsplit(":", 1)
            payload["origin"] = {"client_id": origin_client, "seq": int(origin_seq)}
        conn.execute(
            "INSERT INTO outbox (action_id, lead_id, type, payload, actor, created_at) "
            "VALUES (?, ?, 'decide', ?, ?, ?)",
            (action_id, lead.id, _dumps(payload), self._actor(conn), time.time()),
        )


def _deciding(conn: sqlite3.Connection) -> set[str]:
    """Leads whose pending rows say what the rep wants of the decision (a decide or an
    undo): those rows will be sent anyway. A pending BANT answer says nothing of it: a lost
    decision of such a lead is sent again like any other."""
    rows = conn.execute("SELECT DISTINCT lead_id FROM outbox WHERE type IN ('decide', 'reopen')")
    return {r[0] for r in rows}


def _undone_here(
    lead: domain.Lead, actor: str | None, decision_id: str | None
) -> tuple[str | None] | None:
    """The decision a reopen must name (in a 1-tuple) when the restored server shows the
    decision of this rep's that its last answered decide action made, and the rep undid
    it here: the restore lost the undo. None when the server shows another's or none."""
    standing = lead.decision
    if standing is None or standing.by != actor:
        return None
    if standing.id is None or standing.id == decision_id:
        return (decision_id,)
    return None
