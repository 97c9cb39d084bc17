"""Each lead's view (server state + pending changes) and the queue's projection of it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from triage import domain
from triage.domain import BANT_KEYS, Status
from triage.store.common import (
    _BANT_SQL,
    _UNKNOWN,
    _chunks,
    _dumps,
    _marks,
    _utc,
)
from triage.store.records import (
    HistoryEntry,
    LeadRow,
)
from triage.store.rows import (
    _SET_VIEW,
    _UPSERT_LEAD,
    _UPSERT_SERVER,
    _lead_row,
    _queue_view,
    _replay,
)


class ViewMixin:
    """Server states, views, the projection, and one lead in full."""

    @staticmethod
    def _outbox_rows(
        conn: sqlite3.Connection, lead_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, dict[str, Any], str | None]]]:
        rows: dict[str, list[tuple[str, dict[str, Any], str | None]]] = {}
        for lead_id, kind, payload, actor in conn.execute(
            f"SELECT lead_id, type, payload, actor FROM outbox "
            f"WHERE lead_id IN ({_marks(len(lead_ids))}) ORDER BY id",
            lead_ids,
        ):
            rows.setdefault(lead_id, []).append((kind, json.loads(payload), actor))
        return rows

    def _recompute(self, conn: sqlite3.Connection, lead_ids: Iterable[str]) -> None:
        """Refresh the queue's view columns of `lead_ids`: server state + outbox replayed.
        A lead with no outbox row is its server state: read in SQL from its JSON (a push
        answer touches thousands, and decoding each in Python costs more)."""
        ids = list(dict.fromkeys(lead_ids))
        for chunk in _chunks(ids):
            rows = self._outbox_rows(conn, chunk)
            plain = [i for i in chunk if i not in rows]
            if plain:
                conn.execute(_VIEW_OF_SERVER.format(marks=_marks(len(plain))), plain)
            replayed = [i for i in chunk if i in rows]
            if not replayed:
                continue
            servers = conn.execute(
                f"SELECT id, json FROM lead_server WHERE id IN ({_marks(len(replayed))})",
                replayed,
            ).fetchall()
            updates = []
            for lead_id, server_json in servers:
                status, bant, _ = _replay(json.loads(server_json), rows[lead_id])
                updates.append((*_queue_view(status, bant), lead_id))
            conn.executemany(_SET_VIEW, updates)

    @staticmethod
    def _existing(conn: sqlite3.Connection, lead_ids: Sequence[str]) -> dict[str, LeadRow]:
        """The ids in the store, each with its projection (status, version, name, BANT)."""
        found: dict[str, LeadRow] = {}
        for chunk in _chunks(lead_ids):
            for lead_id, status, version, name, *bant in conn.execute(
                f"SELECT id, status, version, name, {_BANT_SQL} FROM leads "
                f"WHERE id IN ({_marks(len(chunk))})",
                chunk,
            ):
                found[lead_id] = LeadRow(status, version, name, tuple(bant))
        return found

    def _put_server_leads(
        self,
        conn: sqlite3.Connection,
        leads: Sequence[domain.Lead],
        *,
        force: bool = False,
        texts: Sequence[str | None] = (),
    ) -> list[str]:
        """Write server states, their view = the server state (callers recompute the
        leads with outbox rows). Returns the ids written.

        A version older than or equal to the one stored is ignored (a push answer can be
        newer than a pull page), unless `force` (after a reset the server may have gone back).
        `texts`: the first leads' JSON (protocol form, as domain.lead_from_dict reads it),
        kept as it is unless the lead needed cleaning; the others' is made here.
        """
        latest: dict[str, tuple[domain.Lead, str | None]] = {}
        for i, lead in enumerate(leads):
            # Whatever a server sends, no text with a control character reaches the store,
            # so no screen or table of ours can write an escape sequence to the terminal.
            clean = domain.clean_lead(lead)
            text = texts[i] if i < len(texts) and clean is lead else None
            # the same lead twice in a page: the newer
            if clean.id not in latest or clean.version >= latest[clean.id][0].version:
                latest[clean.id] = (clean, text)
        if not force:
            for chunk in _chunks(list(latest)):
                for lead_id, version in conn.execute(
                    f"SELECT id, version FROM leads WHERE id IN ({_marks(len(chunk))})", chunk
                ):
                    # The same version is the same content (the server bumps it on every
                    # change): a pull that brings back what a push answer already gave us
                    # writes nothing.
                    if latest[lead_id][0].version <= version:
                        del latest[lead_id]
        # In the order of the tables' key: random ids written in a page's order cost half
        # as much again (each write lands on another page of the tree).
        rows = [_lead_row(*latest[lead_id]) for lead_id in sorted(latest)]
        conn.executemany(_UPSERT_LEAD, [r[0] for r in rows])
        conn.executemany(_UPSERT_SERVER, [r[1] for r in rows])
        return list(latest)

    def _patch_server_leads(
        self, conn: sqlite3.Connection, patches: Sequence[domain.LeadState]
    ) -> None:
        """("push_patch") Server states moved on by what a push answered of each lead: its
        status, BANT and decision at the new version, set in the stored JSON by SQLite. A
        patch applies only to the version just before it (the rep's mutation was the only
        change since): any other is left for the pull, which brings the whole lead. Callers
        recompute the views."""
        rows = []
        for patch in sorted(patches, key=lambda p: p.version):  # several: in their order
            decision = patch.decision
            if decision is not None and decision.note is not None:  # as clean_lead does
                note = domain.terminal_text(decision.note, multiline=True)
                decision = replace(decision, note=note)
            changed = {"bant": patch.bant, "decision": domain.decision_to_dict(decision)}
            rows.append((patch.version, patch.status.value, _dumps(changed), patch.id))
        conn.executemany(_PATCH_SERVER, rows)
        conn.executemany("UPDATE leads SET version = ?1 WHERE id = ?4 AND version = ?1 - 1", rows)

    def server_versions(self, lead_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of these leads' server state held here (absent: none)."""
        found: dict[str, int] = {}
        with self._read() as conn:
            for chunk in _chunks(list(lead_ids)):
                found.update(
                    conn.execute(
                        f"SELECT id, version FROM lead_server WHERE id IN ({_marks(len(chunk))})",
                        chunk,
                    )
                )
        return found

    def _ids_with_outbox(self, conn: sqlite3.Connection, lead_ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        for chunk in _chunks(lead_ids):
            out.extend(
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT lead_id FROM outbox WHERE lead_id IN ({_marks(len(chunk))})",
                    chunk,
                )
            )
        return out

    @staticmethod
    def _add_conflict(
        conn: sqlite3.Connection,
        *,
        lead_id: str,
        lead_name: str | None,
        seq: int | None,
        status: str,
        error: str | None,
        server_lead: domain.Lead | None,
        kind: str,
        payload: str,
        now: float,
    ) -> None:
        mutation = {"seq": seq, "lead_id": lead_id, "type": kind, **json.loads(payload)}
        server_json = None if server_lead is None else _dumps(domain.lead_to_dict(server_lead))
        conn.execute(
            "INSERT INTO conflicts (lead_id, lead_name, seq, status, error, server_json, "
            "mutation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (lead_id, lead_name, seq, status, error, server_json, _dumps(mutation), now),
        )

    def _standing_decision(self, conn: sqlite3.Connection, lead_id: str) -> dict | None:
        """The decision the lead's view shows (its server state with its outbox replayed),
        as a dict (outcome, by, id, ...); None for an open lead or one not here."""
        row = conn.execute("SELECT json FROM lead_server WHERE id = ?", (lead_id,)).fetchone()
        if row is None:
            return None
        rows = self._outbox_rows(conn, [lead_id]).get(lead_id, ())
        status, _bant, decision = _replay(json.loads(row[0]), rows)
        return None if status == Status.OPEN.value else (decision or {})

    def lead(self, lead_id: str) -> domain.Lead | None:
        """The local view of one lead, in full: its server state with its outbox replayed."""
        with self._read() as conn:
            row = conn.execute("SELECT json FROM lead_server WHERE id = ?", (lead_id,)).fetchone()
            if row is None:
                return None
            rows = self._outbox_rows(conn, [lead_id]).get(lead_id, ())
        server = json.loads(row[0])
        status, bant, decision = _replay(server, rows)
        return replace(
            domain.lead_from_dict(server),
            status=domain.status_of(status),
            bant=bant,
            decision=domain.decision_from_dict(decision),
        )

    def history(self, lead_id: str) -> list[HistoryEntry]:
        """The lead's local decision history: decisions, undos and conflicts, by time."""
        entries: list[HistoryEntry] = []
        with self._read() as conn:
            for detail_json, undone_at in conn.execute(
                "SELECT a.detail, a.undone_at FROM action_leads al "
                "JOIN actions a ON a.action_id = al.action_id "
                "WHERE al.lead_id = ? AND a.kind = 'decide' ORDER BY a.id",
                (lead_id,),
            ):
                d = json.loads(detail_json)
                entries.append(
                    HistoryEntry(
                        domain.parse_time(d["at"]), "decide", d["outcome"], d["reason"], d["note"]
                    )
                )
                if undone_at is not None:
                    entries.append(
                        HistoryEntry(_utc(undone_at), "undo", d["outcome"], d["reason"], None)
                    )
            for created_at, mutation, error in conn.execute(
                "SELECT created_at, mutation, error FROM conflicts WHERE lead_id = ? ORDER BY id",
                (lead_id,),
            ):
                m = json.loads(mutation)
                entries.append(
                    HistoryEntry(
                        _utc(created_at),
                        "conflict",
                        m.get("outcome"),
                        m.get("reason"),
                        m.get("note"),
                        error,
                    )  # fmt: skip
                )
        entries.sort(key=lambda e: e.at)  # stable: a decision stays before its own undo
        return entries


# A lead's view columns when it has no outbox row: its server state's status and answers.
_VIEW_OF_SERVER = (
    f"UPDATE leads SET (status, {_BANT_SQL}) = (SELECT json_extract(s.json, '$.status'), "
    + ", ".join(f"coalesce(json_extract(s.json, '$.bant.{k}'), '{_UNKNOWN}')" for k in BANT_KEYS)
    + " FROM lead_server s WHERE s.id = leads.id) WHERE id IN ({marks}) "
    "AND EXISTS (SELECT 1 FROM lead_server s WHERE s.id = leads.id)"
)

# ("push_patch") version, status, {"bant", "decision"} as JSON, id: over the version before
# only.
_PATCH_SERVER = (
    "UPDATE lead_server SET version = ?1, json = json_set(json, '$.version', ?1, "
    "'$.status', ?2, '$.bant', json_extract(?3, '$.bant'), "
    "'$.decision', json_extract(?3, '$.decision')) "
    "WHERE id = ?4 AND version = ?1 - 1"
)
