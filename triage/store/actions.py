"""The rep's actions: decide (one lead or thousands), BANT answers, undo, and reopen."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from triage import domain
from triage.domain import BANT_KEYS, Answer, Outcome, Status
from triage.store.common import (
    _REFUSED,
    MAX_NOTE,
    _dumps,
    _name_ids,
    _utc,
)
from triage.store.records import (
    ActionError,
    ActionResult,
    LeadRow,
    UndoResult,
)

# The leads of a decision that are not open, in the order given: (id, status), status
# None for an id the store does not know. Nothing, usually: one pass over the id list.
_NOT_OPEN = (
    "SELECT j.value, leads.status FROM json_each(?) AS j LEFT JOIN leads ON leads.id = j.value "
    "WHERE leads.status IS NOT 'open' ORDER BY j.key"
)


class ActionsMixin:
    """Each action one transaction: the new view, its outbox rows and the undo journal."""

    def decide(
        self,
        lead_ids: Sequence[str],
        outcome: Outcome | str,
        *,
        reason: str | None = None,
        note: str | None = None,
        nurture_until: date | None = None,
        at: datetime | None = None,
    ) -> ActionResult:
        """Decide open leads, one or thousands, in one transaction; one step to undo.

        Checked against the cached policy first; raises ActionError, writing
        nothing, for a bad outcome, reason or note, an unknown lead or a lead that
        is not open.
        """
        ids = list(dict.fromkeys(lead_ids))
        if not ids:
            raise ActionError("no_leads", "no leads to decide")
        outcome, note = _checked(outcome, note, nurture_until)
        detail = {
            "outcome": outcome.value,
            "reason": reason or None,
            "note": note,
            "at": domain.format_time(domain.utcnow() if at is None else domain.parse_time(at)),
            "nurture_until": nurture_until.isoformat() if nurture_until else None,
        }
        action_id = str(uuid.uuid4())
        with self._write() as conn:
            self._check_decision(self._policy(conn), outcome, detail["reason"], note)
            listed = _dumps(sorted(ids))  # index order: each B-tree is written front to back
            not_open = conn.execute(_NOT_OPEN, (_dumps(ids),)).fetchall()
            missing = [i for i, status in not_open if status is None]
            if missing:
                raise ActionError("unknown_lead", f"unknown lead id(s): {_name_ids(missing)}")
            if not_open:
                decided = [f"{i} ({status})" for i, status in not_open]
                raise ActionError("not_open", f"already decided: {_name_ids(decided)}")
            self._write_decision(conn, action_id, detail, listed, len(ids))
        return ActionResult(action_id, len(ids), tuple(ids))

    def _write_decision(
        self,
        conn: sqlite3.Connection,
        action_id: str,
        detail: dict[str, Any],
        listed: str,  # the leads' ids, a JSON array in index order
        count: int,
    ) -> None:
        """The journal entry, one outbox row per lead, and the queue's view, at once: each
        one statement over the id list (json_each), so 10,000 leads cost no Python loop."""
        now = time.time()
        actor = self._actor(conn)
        conn.execute(
            "INSERT INTO actions (action_id, kind, detail, count, created_at) "
            "VALUES (?, 'decide', ?, ?, ?)",
            (action_id, _dumps(detail), count, now),
        )
        conn.execute(
            "INSERT INTO action_leads (action_id, lead_id) "
            "SELECT ?, value FROM json_each(?) ORDER BY key",
            (action_id, listed),
        )
        payload = {k: detail[k] for k in ("outcome", "reason", "note")}
        payload |= {"bant": None, "nurture_until": detail["nurture_until"], "at": detail["at"]}
        # Each row's payload is this one's JSON with the lead's base_version last: the text
        # _dumps({**payload, "base_version": version}) writes, put together in SQL.
        head = _dumps(payload)[:-1] + ',"base_version":'
        conn.execute(
            "INSERT INTO outbox (action_id, lead_id, type, payload, actor, created_at) "
            "SELECT ?, leads.id, 'decide', ? || leads.version || '}', ?, ? "
            "FROM json_each(?) AS j JOIN leads ON leads.id = j.value ORDER BY j.key",
            (action_id, head, actor, now, listed),
        )
        # The view directly: a decide replayed last sets the status, nothing else the
        # queue shows.
        status = Outcome(detail["outcome"]).status.value
        conn.execute(
            "UPDATE leads SET status = ? WHERE id IN (SELECT value FROM json_each(?))",
            (status, listed),
        )

    @staticmethod
    def _check_decision(
        policy: domain.Policy, outcome: Outcome, reason: str | None, note: str | None
    ) -> None:
        error = policy.check_decision(outcome, reason, note)
        if error is None:
            return
        known = ", ".join(r.code for r in policy.reasons_for(outcome))
        if error == "reason_required":
            message = f"{outcome.value} needs a reason (one of: {known})"
        elif error == "unknown_reason" and outcome is Outcome.ACCEPT:
            message = "accept takes no reason"
        elif error == "unknown_reason":
            message = f"unknown reason {reason!r} for {outcome.value} (known: {known})"
        elif error == "note_required":
            message = f"reason {reason!r} needs a note saying why"
        else:
            message = f"this decision is not valid ({error})"
        raise ActionError(error, message)

    def set_bant(self, lead_id: str, key: str, answer: str) -> ActionResult:
        """Record the rep's answer to one BANT criterion: one outbox mutation, undoable."""
        with self._write() as conn:
            policy = self._policy(conn)
            error = policy.check_bant({key: answer})
            if error == "unknown_bant_key":
                known = ", ".join(policy.bant_keys)
                raise ActionError(error, f"unknown BANT criterion {key!r} (known: {known})")
            if error:
                raise ActionError(error, f"a BANT answer is yes, no or unknown, not {answer!r}")
            found = self._existing(conn, [lead_id])
            if not found:
                raise ActionError("unknown_lead", f"unknown lead id(s): {lead_id}")
            version, prior = found[lead_id].version, found[lead_id].answer(key)
            action_id = str(uuid.uuid4())
            now = time.time()
            conn.execute(
                "INSERT INTO actions (action_id, kind, detail, count, created_at) "
                "VALUES (?, 'bant', ?, 1, ?)",
                (action_id, _dumps({"key": key, "answer": answer}), now),
            )
            conn.execute(
                "INSERT INTO action_leads (action_id, lead_id, prior) VALUES (?, ?, ?)",
                (action_id, lead_id, prior),
            )
            self._queue(conn, action_id, lead_id, "bant", version, {key: answer}, now)
            self._recompute(conn, [lead_id])
        return ActionResult(action_id, 1, (lead_id,))

    def cycle_bant(self, lead_id: str, key: str) -> Answer:
        """Move one BANT answer along unknown -> yes -> no -> unknown; returns the new one."""
        if key not in BANT_KEYS:
            raise ActionError("unknown_bant_key", f"unknown BANT criterion {key!r}")
        with self._lock:
            with self._read() as conn:
                found = self._existing(conn, [lead_id])
            if not found:
                raise ActionError("unknown_lead", f"unknown lead id(s): {lead_id}")
            answer = domain.next_answer(found[lead_id].answer(key))
            self.set_bant(lead_id, key, answer.value)
        return answer

    def _queue(
        self,
        conn: sqlite3.Connection,
        action_id: str,
        lead_id: str,
        kind: str,
        base_version: int,
        bant: dict[str, str] | None,
        now: float,
        compensates: int | None = None,
        *,
        reopens: str | None = None,
    ) -> None:
        """Append one bant or reopen mutation to the outbox. `compensates`: the outbox row
        (still unanswered) that this one undoes; it waits for that row's answer.
        `reopens`: the identity of the decision a reopen undoes (servers with "origin"
        undo no other)."""
        payload = {
            "outcome": None, "reason": None, "note": None, "bant": bant, "nurture_until": None,
            "at": domain.format_time(_utc(now)), "base_version": base_version,
        }  # fmt: skip
        if reopens is not None:
            payload["reopens"] = reopens
        conn.execute(
            "INSERT INTO outbox (action_id, lead_id, type, payload, actor, created_at, "
            "compensates) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (action_id, lead_id, kind, _dumps(payload), self._actor(conn), now, compensates),
        )

    def undo(self) -> UndoResult | None:
        """Undo the most recent action not undone yet; None when there is none.

        Its outbox rows never handed out for pushing are deleted. Where the action
        may have reached the server (a row handed out, or answered applied), a
        compensating mutation is queued if the view still differs from before:
        `reopen` for a decision, a `bant` mutation restoring the previous answer.
        Leads since revoked, and mutations the server refused, need nothing.
        """
        now = time.time()
        with self._write() as conn:
            act = conn.execute(
                "SELECT action_id, kind, detail FROM actions WHERE undone_at IS NULL "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if act is None:
                return None
            action_id, kind, detail_json = act
            count, queued = self._undo_action(conn, action_id, kind, detail_json, now)
        return UndoResult(action_id, kind, count, queued > 0)

    def _undo_action(
        self, conn: sqlite3.Connection, action_id: str, kind: str, detail_json: str, now: float
    ) -> tuple[int, int]:
        """Undo one action (see undo): (leads still here, compensations queued)."""
        members = conn.execute(
            "SELECT lead_id, prior, result, decision_id FROM action_leads "
            "WHERE action_id = ? ORDER BY lead_id",
            (action_id,),
        ).fetchall()
        # Rows of the action already handed out may be in flight: a compensation waits
        # for their answer (and is dropped with them if the server refuses them).
        conn.execute("DELETE FROM outbox WHERE action_id = ? AND seq IS NULL", (action_id,))
        in_flight = dict(
            conn.execute(
                "SELECT lead_id, id FROM outbox WHERE action_id = ? AND seq IS NOT NULL",
                (action_id,),
            ).fetchall()
        )
        ids = [m[0] for m in members]
        self._recompute(conn, ids)
        present = self._existing(conn, ids)
        queued = self._compensate(
            conn, kind, json.loads(detail_json), members, present, in_flight, now
        )
        if queued:
            self._recompute(conn, ids)
        conn.execute("UPDATE actions SET undone_at = ? WHERE action_id = ?", (now, action_id))
        return len(present), queued

    def reopen(self, lead_ids: Sequence[str]) -> ActionResult:
        """Take back decisions of the rep's, any of them, not only the last action's: each
        lead open again, in one transaction. It is the undo of that lead's part of its
        decision (split into an action of its own): a decision never sent is dropped, one
        that may have reached the server is followed by a `reopen` naming it. A decision
        this device has no record of (made on another one) gets a `reopen` naming the
        decision the lead shows. Not on the undo stack: decide the lead again instead.
        Raises ActionError, writing nothing, for an unknown lead, an open lead or one
        decided by someone else."""
        ids = list(dict.fromkeys(lead_ids))
        if not ids:
            raise ActionError("no_leads", "no leads to reopen")
        now = time.time()
        action_id = str(uuid.uuid4())
        with self._write() as conn:
            found = self._existing(conn, ids)
            missing = [i for i in ids if i not in found]
            if missing:
                raise ActionError("unknown_lead", f"unknown lead id(s): {_name_ids(missing)}")
            standing = {i: self._standing_decision(conn, i) for i in ids}
            actor = self._actor(conn)
            still_open = [i for i in ids if standing[i] is None]
            if still_open:
                raise ActionError("not_decided", f"not decided: {_name_ids(still_open)}")
            others = [f"{i} ({standing[i].get('by')})" for i in ids
                      if standing[i].get("by") not in (None, actor)]  # fmt: skip
            if others:
                raise ActionError(
                    "not_own_decision", f"decided by someone else: {_name_ids(others)}"
                )
            for lead_id in ids:
                own = self._split_decision(conn, lead_id, standing[lead_id].get("id"))
                if own is not None:
                    self._undo_action(conn, own, "decide", own_detail(conn, own), now)
                    continue
                self._queue(
                    conn, action_id, lead_id, "reopen", found[lead_id].version, None, now,
                    reopens=standing[lead_id].get("id"),
                )  # fmt: skip
                self._recompute(conn, [lead_id])
        return ActionResult(action_id, len(ids), tuple(ids))

    def _split_decision(
        self, conn: sqlite3.Connection, lead_id: str, standing_id: str | None
    ) -> str | None:
        """The journal's action for the lead's standing decision, with this lead alone
        in it (a bulk decision is split: the lead's journal and outbox rows move to an
        action of their own, dated as the bulk one); None when the journal has none."""
        row = conn.execute(
            "SELECT a.action_id, a.detail, a.count, a.created_at, al.decision_id "
            "FROM action_leads al JOIN actions a ON a.action_id = al.action_id "
            "WHERE al.lead_id = ? AND a.kind = 'decide' AND a.undone_at IS NULL "
            "ORDER BY a.id DESC LIMIT 1",
            (lead_id,),
        ).fetchone()
        if row is None:
            return None
        action_id, detail, count, created_at, decision_id = row
        if standing_id is not None and decision_id is not None and standing_id != decision_id:
            return None  # the lead shows another decision (made elsewhere since)
        if count == 1:
            return action_id
        split = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO actions (action_id, kind, detail, count, created_at) "
            "VALUES (?, 'decide', ?, 1, ?)",
            (split, detail, created_at),
        )
        for table in ("action_leads", "outbox"):
            conn.execute(
                f"UPDATE {table} SET action_id = ? WHERE action_id = ? AND lead_id = ?",
                (split, action_id, lead_id),
            )
        conn.execute("UPDATE actions SET count = count - 1 WHERE action_id = ?", (action_id,))
        return split

    def _compensate(
        self,
        conn: sqlite3.Connection,
        kind: str,
        detail: dict[str, Any],
        members: list[tuple],
        present: dict[str, LeadRow],
        in_flight: dict[str, int],
        now: float,
    ) -> int:
        """Queue what undoes an action that may have reached the server, where the view
        still differs from before it: a reopen (naming the decision), or a BANT answer
        restored. Returns how many were queued."""
        compensation = str(uuid.uuid4())
        queued = 0
        for lead_id, prior, result, decision_id in members:
            if lead_id not in present or result in _REFUSED:
                continue
            row, target = present[lead_id], in_flight.get(lead_id)
            if kind == "decide" and row.status != Status.OPEN.value:
                self._queue(
                    conn, compensation, lead_id, "reopen", row.version, None, now, target,
                    reopens=decision_id,
                )  # fmt: skip
                queued += 1
            elif kind == "bant" and row.answer(detail["key"]) != prior:
                restore = {detail["key"]: prior}
                self._queue(conn, compensation, lead_id, "bant", row.version, restore, now, target)
                queued += 1
        return queued


def own_detail(conn: sqlite3.Connection, action_id: str) -> str:
    return conn.execute("SELECT detail FROM actions WHERE action_id = ?", (action_id,)).fetchone()[
        0
    ]


def _checked(
    outcome: Outcome | str, note: str | None, nurture_until: date | None
) -> tuple[Outcome, str | None]:
    """The decision's outcome and note, or ActionError for one that can never be sent."""
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise ActionError(
            "bad_outcome", f"unknown outcome {outcome!r} (use accept, reject or nurture)"
        ) from None
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise ActionError("note_too_long", f"the note is longer than {MAX_NOTE} characters")
    control = None if note is None else domain.control_problem(note, multiline=True)
    if control is not None:
        raise ActionError("bad_value", f"the note {control}")
    if nurture_until is not None and outcome is not Outcome.NURTURE:
        raise ActionError("bad_value", "a re-entry date (nurture_until) goes with nurture only")
    return outcome, note
