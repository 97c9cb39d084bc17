"""Protocol v1 for reps: pull (with the history check), push (exactly once), lookup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from triage import domain
from triage.protocol import Mutation, MutationEnvelope
from triage.server import models
from triage.server.db import SeqAllocator, current_seq, utcnow
from triage.server.services.common import (
    _PUSHED_COLUMNS,
    LEAD,
    Caller,
    ServiceError,
    _chunks,
    _iso,
    _utc,
    lead_wire,
)


class SyncMixin:
    """The rep's side of the protocol."""

    @staticmethod
    def _here(s: Session) -> dict[str, Any]:
        """Who answers, read in the answer's own transaction: server_id and epoch."""
        info = s.get(models.ServerInfo, 1)
        assert info is not None, "the schema migrations make this row"
        return {"server_id": info.server_id, "epoch": info.epoch}

    @staticmethod
    def _digest(s: Session, seq: int) -> str | None:
        if seq <= 0:
            return None
        return s.execute(
            select(models.ChangeLog.digest).where(models.ChangeLog.seq == seq)
        ).scalar_one_or_none()

    def _from_another_history(self, s: Session, cursor: int, top: int, digest: str | None) -> bool:
        """Can the server not serve `cursor`? Past its counter (a restore), or, with the
        digest the client was given for it, a change log that says something else there
        (a restore, then new changes) or nothing any more (pruned): answer reset."""
        if cursor > top:
            return True
        if digest is None or cursor == 0:
            return False
        return self._digest(s, cursor) != digest

    def _client_last_seq(self, s: Session, caller: Caller, client_id: str | None) -> int:
        if client_id is None:
            return 0
        state = s.get(models.ClientState, client_id)
        if state is None:
            return 0
        if state.user_id != caller.id:
            raise ServiceError(403, "client_id_taken", "this client_id belongs to another user")
        return state.last_seq

    def pull(
        self,
        caller: Caller,
        cursor: int,
        limit: int,
        client_id: str | None,
        digest: str | None = None,
    ) -> dict[str, Any]:
        with self.db.read() as s:
            top = current_seq(s)
            policy = self._policy(s)
            here = self._here(s)
            last_seq = self._client_last_seq(s, caller, client_id)
            reset = self._from_another_history(s, cursor, top, digest)
            if reset:
                cursor = 0
            q = select(LEAD).where(LEAD.c.owner_id == caller.id, LEAD.c.seq > cursor)
            if cursor == 0:
                q = q.where(LEAD.c.status == domain.Status.OPEN.value)
            leads = list(s.execute(q.order_by(LEAD.c.seq).limit(limit + 1)))
            revs: list[tuple[int, str]] = []
            if cursor > 0:
                revs = [
                    (r.seq, r.lead_id)
                    for r in s.execute(
                        select(models.Revocation)
                        .where(
                            models.Revocation.user_id == caller.id, models.Revocation.seq > cursor
                        )
                        .order_by(models.Revocation.seq)
                        .limit(limit + 1)
                    ).scalars()
                ]
            items: list[tuple[int, int, Any]] = [(lead.seq, 1, lead) for lead in leads]
            items += [(seq, 0, lead_id) for seq, lead_id in revs]
            items.sort(key=lambda t: (t[0], t[1]))
            has_more = len(items) > limit
            items = items[:limit]
            new_cursor = items[-1][0] if has_more else top
            cursor_digest = self._digest(s, new_cursor)
        out_leads = [lead_wire(x, caller.email) for _, kind, x in items if kind == 1]
        revoked = [x for _, kind, x in items if kind == 0]
        return {
            "leads": out_leads,
            "revoked": revoked,
            "cursor": new_cursor,
            "has_more": has_more,
            "policy_version": policy.version,
            "last_seq": last_seq,
            "reset": reset,
            **here,
            "cursor_digest": cursor_digest,
        }

    def lookup(
        self, caller: Caller, lead_ids: Sequence[str], client_id: str | None
    ) -> dict[str, Any]:
        """The current state of the given leads that are the caller's (any status); the
        rest in `missing`, with nothing said about them. For a client that must learn
        what a restored server still holds of its own decisions."""
        wanted = list(dict.fromkeys(i for i in lead_ids if domain.storable_text(i)))
        found: dict[str, Any] = {}
        with self.db.read() as s:
            here = self._here(s)
            last_seq = self._client_last_seq(s, caller, client_id)
            for chunk in _chunks(wanted):
                for row in s.execute(
                    select(LEAD).where(LEAD.c.id.in_(chunk), LEAD.c.owner_id == caller.id)
                ):
                    found[row.id] = row
        return {
            "leads": [lead_wire(found[i], caller.email) for i in wanted if i in found],
            "missing": [i for i in lead_ids if i not in found],
            "last_seq": last_seq,
            **here,
        }

    def push(
        self, caller: Caller, client_id: str, envelopes: Sequence[MutationEnvelope]
    ) -> dict[str, Any]:
        received = utcnow()
        ordered = sorted(envelopes, key=lambda e: e.seq)
        with self.db.write() as s:
            state = s.get(models.ClientState, client_id)
            if state is None:
                state = models.ClientState(
                    client_id=client_id, user_id=caller.id, last_seq=0, updated_at=received
                )
                s.add(state)
            elif state.user_id != caller.id:
                raise ServiceError(403, "client_id_taken", "this client_id belongs to another user")
            last = state.last_seq
            policy = self._policy(s)
            lead_ids = sorted(
                {
                    str(e.model_extra.get("lead_id"))
                    for e in ordered
                    if e.model_extra and domain.storable_text(str(e.model_extra.get("lead_id")))
                }
            )
            # Leads as plain records, written back in one executemany: ORM objects cost
            # more than the database work at 500 mutations a batch.
            leads: dict[str, Any] = {}
            for chunk in _chunks(lead_ids):
                for row in s.execute(select(LEAD).where(LEAD.c.id.in_(chunk))):
                    leads[row.id] = SimpleNamespace(**row._mapping)
            before = {lead_id: lead.seq for lead_id, lead in leads.items()}
            old = [e.seq for e in ordered if e.seq <= last]
            stored: dict[int, dict[str, Any]] = {}
            for chunk in _chunks(old):
                for seq, lead_id, status, error in s.execute(
                    select(
                        models.MutationLog.seq,
                        models.MutationLog.lead_id,
                        models.MutationLog.status,
                        models.MutationLog.error,
                    ).where(
                        models.MutationLog.client_id == client_id, models.MutationLog.seq.in_(chunk)
                    )  # fmt: skip
                ):
                    stored[seq] = {"lead_id": lead_id, "status": status, "error": error}
            seqs = SeqAllocator(s)
            results: list[dict[str, Any]] = []
            logs: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for env in ordered:
                if env.seq <= last:
                    log = stored.get(env.seq)
                    lead = leads.get(log["lead_id"]) if log and log["lead_id"] else None
                    visible = lead is not None and lead.owner_id == caller.id
                    results.append(
                        {
                            "seq": env.seq,
                            "status": "duplicate",
                            "error": log["error"] if log else None,
                            "stored": log["status"] if log else None,
                            "lead": lead_wire(lead, caller.email) if visible else None,
                        }
                    )
                    continue
                if env.seq != last + 1:
                    results.append(
                        {"seq": env.seq, "status": "out_of_order", "error": None, "lead": None}
                    )
                    continue
                status, error, lead = self._apply(
                    caller, client_id, policy, env, leads, seqs, received, events
                )
                last = env.seq
                log = {
                    "client_id": client_id,
                    "seq": env.seq,
                    "lead_id": lead.id if lead is not None else None,
                    "status": status,
                    "error": error,
                    "processed_at": received,
                }
                logs.append(log)
                stored[env.seq] = log
                visible = lead is not None and lead.owner_id == caller.id
                results.append(
                    {
                        "seq": env.seq,
                        "status": status,
                        "error": error,
                        "lead": lead_wire(lead, caller.email) if visible else None,
                    }
                )
            # Plain inserts: building thousands of SQLModel objects costs more than the writes.
            if logs:
                s.execute(insert(models.MutationLog.__table__), logs)
            changed = [lead for lead_id, lead in leads.items() if lead.seq != before[lead_id]]
            if changed:
                s.execute(
                    update(LEAD)
                    .where(LEAD.c.id == bindparam("_id"))
                    .values({c: bindparam(f"_{c}") for c in _PUSHED_COLUMNS}),
                    [
                        {"_id": x.id, **{f"_{c}": getattr(x, c) for c in _PUSHED_COLUMNS}}
                        for x in changed
                    ],
                )
            if events:
                s.execute(insert(models.Event.__table__), events)
            state.last_seq = last
            state.updated_at = received
            seqs.close()
            here = self._here(s)
        return {"results": results, "last_seq": last, **here}

    def _apply(
        self,
        caller: Caller,
        client_id: str,
        policy: domain.Policy,
        env: MutationEnvelope,
        leads: dict[str, Any],
        seqs: SeqAllocator,
        received: datetime,
        events: list[dict[str, Any]],
    ) -> tuple[str, str | None, Any]:
        """Apply one in-order mutation to its lead record: (status, error, lead to show)."""
        try:
            m = Mutation.model_validate({"seq": env.seq, **(env.model_extra or {})})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            where = domain.shown_text(where).replace("\x00", "?")  # a field name is stored too
            return "invalid", f"bad_mutation:{where}"[:40], None
        for name in ("lead_id", "reason", "note"):
            value = getattr(m, name)
            if value is not None and (
                not domain.storable_text(value)
                or domain.control_problem(value, multiline=name == "note") is not None
            ):
                return "invalid", f"bad_mutation:{name}", None
        try:
            client_at = _utc(m.at) or received
        except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00
            return "invalid", "bad_mutation:at", None
        lead = leads.get(m.lead_id)
        if lead is None or lead.owner_id != caller.id:
            return "conflict", "not_assigned", None
        if m.type == "decide":
            if m.outcome is None:
                return "invalid", "outcome_required", lead
            error = policy.check_decision(m.outcome, m.reason, m.note)
            if error is None and m.bant:
                error = policy.check_bant(m.bant)
            if error is not None:
                return "invalid", error, lead
            outcome = domain.Outcome(m.outcome)
            effective = domain.clamp_time(client_at, lead.assigned_at, received)
            nurture_until = m.nurture_until if outcome is domain.Outcome.NURTURE else None
            error = domain.nurture_until_error(nurture_until, effective)
            if error is not None:
                return "invalid", error, lead
            # A decision keeps the identity of its first sending, also when a rep sends it
            # again after a restore: the same decision is never applied twice.
            decision_id = (
                f"{m.origin.client_id}:{m.origin.seq}" if m.origin else f"{client_id}:{m.seq}"
            )
            if lead.status != domain.Status.OPEN:
                if (lead.decision or {}).get("id") == decision_id:
                    return "applied", None, lead  # this very decision stands already
                return "conflict", "already_decided", lead
            lead.status, lead.bant, lead.decision = domain.apply(
                lead.status, lead.bant, lead.decision,
                {"type": "decide", "outcome": outcome.value, "reason": m.reason, "note": m.note,
                 "bant": m.bant, "nurture_until": nurture_until, "at": _iso(client_at)},
                by=caller.email, decision_id=decision_id,
            )  # fmt: skip
            lead.decided_at = effective
            event = dict(
                lead_id=lead.id, user_id=caller.id, kind="decide", outcome=outcome.value,
                reason=lead.decision["reason"], note=m.note, nurture_until=nurture_until,
                client_at=client_at, effective_at=effective, received_at=received,
                decision_id=decision_id, client_id=client_id, mutation_seq=m.seq,
            )  # fmt: skip
        elif m.type == "bant":
            if not m.bant:
                return "invalid", "bant_required", lead
            error = policy.check_bant(m.bant)
            if error is not None:
                return "invalid", error, lead
            _, merged, _ = domain.apply(
                lead.status, lead.bant, lead.decision, {"type": "bant", "bant": m.bant}, by=None
            )
            if merged == lead.bant:
                return "applied", None, lead
            lead.bant = merged
            event = None
        else:  # reopen
            if lead.status == domain.Status.OPEN:
                return "conflict", "not_decided", lead
            standing = lead.decision or {}
            if standing.get("by") != caller.email:
                return "conflict", "not_own_decision", lead
            # An undo names the decision it undoes: never another one (say, the same rep's
            # decision from another device, made after this one was refused).
            if m.reopens is not None and standing.get("id") not in (None, m.reopens):
                return "conflict", "not_own_decision", lead
            effective = domain.clamp_time(client_at, lead.assigned_at, received)
            lead.status, lead.bant, lead.decision = domain.apply(
                lead.status, lead.bant, lead.decision, {"type": "reopen"}, by=caller.email
            )
            lead.decided_at = None
            event = dict(
                lead_id=lead.id, user_id=caller.id, kind="reopen", outcome=None, reason=None,
                note=None, nurture_until=None, client_at=client_at, effective_at=effective,
                received_at=received, decision_id=standing.get("id"), client_id=client_id,
                mutation_seq=m.seq,
            )  # fmt: skip
        lead.version += 1
        lead.seq = seqs.next(lead.id, m.type)
        lead.updated_at = received
        if event is not None:
            event["seq"] = lead.seq
            events.append(event)
        return "applied", None, lead
