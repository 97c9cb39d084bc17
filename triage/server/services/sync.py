"""Protocol v1 for reps: pull (with the history check), push (exactly once), lookup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, exists, select, update
from sqlmodel import Session

from triage import domain
from triage.protocol import Mutation, MutationEnvelope
from triage.server import models
from triage.server.db import (
    SeqAllocator,
    current_seq,
    executemany,
    insert_rows,
    plain_rows,
    utcnow,
)
from triage.server.services.common import (
    Caller,
    ServiceError,
    _chunks,
    _iso,
    _utc,
    answer_json,
    lead_wire,
    lead_wire_text,
    wire_columns,
)
from triage.server.suggest import store as suggest_store
from triage.server.webhooks.events import Outbox

LEAD = models.Lead.__table__
_PUSHED_COLUMNS = ("status", "decision", "bant", "decided_at", "first_decided_at", "version",
                   "seq", "updated_at")  # fmt: skip


class SyncMixin:
    """The rep's side of the protocol."""

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
        own: bool = False,
        listed: bool = False,
    ) -> dict[str, Any]:
        """One page of the caller's changes after `cursor`, in change order. `own`
        ("own_changes", with client_id and a cursor): a lead whose last change was this
        client's own decision or undo comes as {id, version} in `own`, not whole.
        `listed` ("suggestion_list"): a suggestion comes as a list."""
        return decoded(self.pull_answer(caller, cursor, limit, client_id, digest, own, listed))

    def pull_answer(
        self,
        caller: Caller,
        cursor: int,
        limit: int,
        client_id: str | None,
        digest: str | None = None,
        own: bool = False,
        listed: bool = False,
    ) -> dict[str, Any]:
        """pull's answer with its leads as JSON texts (lead_wire_text), for answer_json."""
        with self.db.read() as s:
            top = current_seq(s)
            policy = self._policy(s)
            here = self._here(s)
            last_seq = self._client_last_seq(s, caller, client_id)
            reset = self._from_another_history(s, cursor, top, digest)
            if reset:
                cursor = 0
            mine = client_id if own and cursor > 0 else None
            items = _changes(s, caller, cursor, limit, mine, listed)
            has_more = len(items) > limit
            items = items[:limit]
            new_cursor = items[-1][0] if has_more else top
            cursor_digest = self._digest(s, new_cursor)
            leads = [x for _, kind, x in items if kind == _LEAD]
            whole = _whole_leads(s, leads, caller.email, policy.suggestions, listed)
        answer = {
            "leads": whole,
            "revoked": [x for _, kind, x in items if kind == _REVOKED],
            "cursor": new_cursor,
            "has_more": has_more,
            "policy_version": policy.version,
            "last_seq": last_seq,
            "reset": reset,
            **here,
            "cursor_digest": cursor_digest,
        }
        if mine is not None:
            answer["own"] = [{"id": i, "version": v} for _, kind, (i, v) in _of(items, _OWN)]
        return answer

    def lookup(
        self, caller: Caller, lead_ids: Sequence[str], client_id: str | None
    ) -> dict[str, Any]:
        """The current state of the given leads that are the caller's (any status); the
        rest in `missing`, with nothing said about them. For a client that must learn
        what a restored server still holds of its own decisions."""
        return decoded(self.lookup_answer(caller, lead_ids, client_id))

    def lookup_answer(
        self, caller: Caller, lead_ids: Sequence[str], client_id: str | None
    ) -> dict[str, Any]:
        """lookup's answer with its leads as JSON texts (lead_wire_text), for answer_json."""
        wanted = list(dict.fromkeys(i for i in lead_ids if domain.storable_text(i)))
        found: dict[str, Any] = {}
        with self.db.read() as s:
            here = self._here(s)
            suggestions = self._policy(s).suggestions
            last_seq = self._client_last_seq(s, caller, client_id)
            columns = wire_columns(_dialect(s))
            for chunk in _chunks(wanted):
                for row in s.execute(
                    select(*columns).where(LEAD.c.id.in_(chunk), LEAD.c.owner_id == caller.id)
                ):
                    found[row.id] = row
        return {
            "leads": [
                lead_wire_text(found[i], caller.email, suggestions) for i in wanted if i in found
            ],
            "missing": [i for i in lead_ids if i not in found],
            "last_seq": last_seq,
            **here,
        }

    def push(
        self,
        caller: Caller,
        client_id: str,
        envelopes: Sequence[MutationEnvelope],
        *,
        patch: bool = False,
    ) -> dict[str, Any]:
        """Apply a client's mutations in seq order, each exactly once: one processed before
        is answered `duplicate` with its stored result, a gap `out_of_order`, and each
        result is recorded with its effect, in one transaction. `patch` ("push_patch"): a
        mutation applied to the lead at the client's base_version is answered with what it
        changed, not the whole lead."""
        received = utcnow()
        ordered = sorted(envelopes, key=lambda e: e.seq)
        with self.db.write() as s:
            state = _client_state(s, caller, client_id, received)
            work = _Push(caller, client_id, received, self._policy(s), state.last_seq, patch)
            work.load(s, ordered)
            for env in ordered:
                work.results.append(self._answer(work, env))
            work.write(s)
            work.show_leads(s)
            state.last_seq = work.last
            state.updated_at = received
            here = self._here(s)
        return {"results": work.results, "last_seq": work.last, **here}

    def _answer(self, work: _Push, env: MutationEnvelope) -> dict[str, Any]:
        """One mutation's result; the whole lead it shows is filled in by show_leads."""
        if env.seq <= work.last:
            log = work.stored.get(env.seq)
            lead = work.leads.get(log["lead_id"]) if log and log["lead_id"] else None
            return work.showing(
                {"seq": env.seq, "status": "duplicate", "error": log["error"] if log else None,
                 "stored": log["status"] if log else None},
                lead,
            )  # fmt: skip
        if env.seq != work.last + 1:
            return {"seq": env.seq, "status": "out_of_order", "error": None, "lead": None}
        status, error, lead = self._apply(work, env)
        work.last = env.seq
        log = {
            "client_id": work.client_id,
            "seq": env.seq,
            "lead_id": lead.id if lead is not None else None,
            "status": status,
            "error": error,
            "processed_at": work.received,
        }
        work.logs.append(log)
        work.stored[env.seq] = log
        result = {"seq": env.seq, "status": status, "error": error}
        patch = work.patches.pop(env.seq, None)
        if patch is not None:
            return {**result, "lead": None, "patch": patch}
        return work.showing(result, lead)

    def _apply(self, work: _Push, env: MutationEnvelope) -> tuple[str, str | None, Any]:
        """Apply one in-order mutation to its lead record: (status, error, lead to show).

        The change itself is domain.apply; around it: the lead must be the caller's, the
        policy must allow it, the rep's time is clamped, the lead's version and change
        number move, and a decision or reopening becomes an event."""
        checked = _checked_mutation(env, work.received)
        if isinstance(checked[0], str):  # refused as it stands: ("invalid", error, None)
            return checked  # type: ignore[return-value]
        m, client_at = checked
        lead = work.leads.get(m.lead_id)
        if lead is None or lead.owner_id != work.caller.id:
            return "conflict", "not_assigned", None
        change = {"decide": _decide, "bant": _bant, "reopen": _reopen}[m.type]
        before = (lead.status, lead.decision)
        status, error, event = change(work, m, lead, client_at)
        if status != "applied" or error == "unchanged":
            return status, None if error == "unchanged" else error, lead
        if work.patch and lead.version == m.base_version:
            # The rep's change was the only one since the version it had: the answer says
            # what changed, not the whole lead again.
            work.patches[m.seq] = _patch(lead, lead.version + 1)
        lead.version += 1
        lead.seq = work.seqs.next(lead.id, m.type)
        lead.updated_at = work.received
        if event is not None:
            event["seq"] = lead.seq
            work.events.append(event)
            work.outbox.decision_event(event, lead, before, work.caller.email)
        return "applied", None, lead


_REVOKED, _LEAD, _OWN = 0, 1, 2  # a page's items: (seq, kind, lead id or (id, version))


def _changes(
    s: Session, caller: Caller, cursor: int, limit: int, client_id: str | None, listed: bool
) -> list[tuple[int, int, Any]]:
    """Up to limit + 1 of the caller's changes after `cursor`, in change order: leads
    (their rows; with `client_id`, their ids, and those whose last change was that
    client's own decision or undo as (id, version): the rest are read whole after), then
    revocations. Only open leads from 0."""
    if client_id is None:
        q = select(*wire_columns(_dialect(s), listed), LEAD.c.seq)
    else:
        event = models.Event.__table__
        own = exists().where(event.c.seq == LEAD.c.seq, event.c.client_id == client_id)
        q = select(LEAD.c.id, LEAD.c.seq, LEAD.c.version, own.label("own"))
    q = q.where(LEAD.c.owner_id == caller.id, LEAD.c.seq > cursor)
    if cursor == 0:
        q = q.where(LEAD.c.status == domain.Status.OPEN.value)
    items: list[tuple[int, int, Any]] = [
        (row.seq, _LEAD, row)
        if client_id is None
        else (row.seq, _OWN, (row.id, row.version))
        if row.own
        else (row.seq, _LEAD, row.id)
        for row in s.execute(q.order_by(LEAD.c.seq).limit(limit + 1))
    ]
    if cursor > 0:
        revocation = models.Revocation
        items += [
            (r.seq, _REVOKED, r.lead_id)
            for r in s.execute(
                select(revocation)
                .where(revocation.user_id == caller.id, revocation.seq > cursor)
                .order_by(revocation.seq)
                .limit(limit + 1)
            ).scalars()
        ]
    items.sort(key=lambda t: (t[0], t[1] != _REVOKED))  # a revocation before its lead's change
    return items


def _of(items: list[tuple[int, int, Any]], kind: int) -> list[tuple[int, int, Any]]:
    return [item for item in items if item[1] == kind]


def _whole_leads(
    s: Session,
    leads: Sequence[Any],
    owner_email: str,
    suggestions: domain.Suggestions,
    listed: bool,
) -> list[dict[str, Any]]:
    """The leads (rows of wire_columns, or ids to read) as protocol JSON texts, in order."""
    rows = {x.id: x for x in leads if not isinstance(x, str)}
    columns = wire_columns(_dialect(s), listed)
    for chunk in _chunks([x for x in leads if isinstance(x, str)]):
        rows.update(
            (row.id, row) for row in s.execute(select(*columns).where(LEAD.c.id.in_(chunk)))
        )
    return [
        lead_wire_text(rows[x if isinstance(x, str) else x.id], owner_email, suggestions)
        for x in leads
    ]


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def decoded(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer of pull_answer or lookup_answer as the JSON a client reads, decoded."""
    return json.loads(answer_json(answer))


def _client_state(
    s: Session, caller: Caller, client_id: str, received: datetime
) -> models.ClientState:
    """The client's row (made on its first push); a client id belongs to one rep."""
    state = s.get(models.ClientState, client_id)
    if state is None:
        state = models.ClientState(
            client_id=client_id, user_id=caller.id, last_seq=0, updated_at=received
        )
        s.add(state)
    elif state.user_id != caller.id:
        raise ServiceError(403, "client_id_taken", "this client_id belongs to another user")
    return state


@dataclass
class _Push:
    """One push's working set: its leads as plain records of the columns a push reads and
    writes (ORM objects, and every JSON column decoded, cost more than the database work
    at 500 mutations a batch), the stored results of seqs processed before, and what it
    writes back in a few statements at the end."""

    caller: Caller
    client_id: str
    received: datetime
    policy: domain.Policy
    last: int
    patch: bool = False  # "push_patch": answer a change with a patch where it can
    leads: dict[str, Any] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    stored: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    patches: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> its patch
    shown: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # result, lead id
    seqs: Any = None
    outbox: Any = None  # the transaction's webhook events (triage.server.webhooks.events)

    def load(self, s: Session, ordered: Sequence[MutationEnvelope]) -> None:
        lead_ids = sorted(
            {
                str(e.model_extra.get("lead_id"))
                for e in ordered
                if e.model_extra and domain.storable_text(str(e.model_extra.get("lead_id")))
            }
        )
        names = [c.name for c in _PUSH_READS]
        for chunk in _chunks(lead_ids):
            for row in plain_rows(s, select(*_PUSH_READS).where(LEAD.c.id.in_(chunk))):
                self.leads[row[0]] = SimpleNamespace(**dict(zip(names, row, strict=True)))
        self.before = {lead_id: lead.seq for lead_id, lead in self.leads.items()}
        log = models.MutationLog
        for chunk in _chunks([e.seq for e in ordered if e.seq <= self.last]):
            for seq, lead_id, status, error in s.execute(
                select(log.seq, log.lead_id, log.status, log.error).where(
                    log.client_id == self.client_id, log.seq.in_(chunk)
                )
            ):
                self.stored[seq] = {"lead_id": lead_id, "status": status, "error": error}
        self.seqs = SeqAllocator(s)
        self.outbox = Outbox.of(s)
        self.outbox.policy = self.policy

    def showing(self, result: dict[str, Any], lead: Any) -> dict[str, Any]:
        """`result` with the whole lead, if the caller may see it (filled in by show_leads)."""
        result["lead"] = None
        if lead is not None and lead.owner_id == self.caller.id:
            self.shown.append((result, lead.id))
        return result

    def show_leads(self, s: Session) -> None:
        """The whole leads the results show, read back once written: each as it stands at
        the end of the push (a later mutation of the batch on the same lead included)."""
        wanted = sorted({lead_id for _, lead_id in self.shown})
        rows: dict[str, Any] = {}
        for chunk in _chunks(wanted):
            for row in s.execute(select(LEAD).where(LEAD.c.id.in_(chunk))):
                rows[row.id] = lead_wire(row, self.caller.email, self.policy.suggestions)
        for result, lead_id in self.shown:
            result["lead"] = rows.get(lead_id)

    def write(self, s: Session) -> None:
        """A few driver executemany: thousands of SQLModel objects, or SQLAlchemy's per-row
        work, cost more than the database's."""
        executemany(s, _LOGS, self.logs)
        changed = [x for lead_id, x in self.leads.items() if x.seq != self.before[lead_id]]
        executemany(
            s,
            _UPDATE_PUSHED,
            [
                {"_id": x.id, "_reason": models.standing_reason(x.decision),
                 "_until": models.standing_until(x.decision),
                 "_hours": models.decision_hours(x),
                 **{f"_{c}": getattr(x, c) for c in _PUSHED_COLUMNS}}
                for x in changed
            ],
        )  # fmt: skip
        executemany(s, _EVENTS, [{**_NO_EVENT_FIELDS, **e} for e in self.events])
        # the leads as decided, for the model, with the suggestion the rep was shown
        suggest_store.record(s, self.events, self.policy.suggestions)
        self.seqs.close()


_LOGS = insert_rows(
    models.MutationLog.__table__,
    ("client_id", "seq", "lead_id", "status", "error", "processed_at"),
)
_UPDATE_PUSHED = (
    update(LEAD)
    .where(LEAD.c.id == bindparam("_id"))
    .values(
        {c: bindparam(f"_{c}") for c in _PUSHED_COLUMNS}
        | {
            "decision_reason": bindparam("_reason"),
            "nurture_until": bindparam("_until"),
            "decision_hours": bindparam("_hours"),
        }
    )
)
_EVENT_COLUMNS = tuple(c.name for c in models.Event.__table__.columns)
_EVENTS = insert_rows(models.Event.__table__, _EVENT_COLUMNS)
_NO_EVENT_FIELDS = dict.fromkeys(_EVENT_COLUMNS)


_Applied = tuple[str, str | None, dict[str, Any] | None]  # status, error, event

# What a push reads of a lead: what it checks, changes and writes back, and what a
# decision's event names (never the JSON of the lead's profile, which it does not need).
_PUSH_READS = tuple(
    LEAD.c[name]
    for name in ("id", "owner_id", "external_id", "campaign", "source", "assigned_at", "mql_at",
                 "version", "seq", "status", "bant", "decision", "decided_at",
                 "first_decided_at", "updated_at")
)  # fmt: skip


def _patch(lead: Any, version: int) -> dict[str, Any]:
    """("push_patch") The lead's changeable part, as its whole JSON would say it."""
    return {"id": lead.id, "version": version, "status": lead.status, "bant": lead.bant,
            "decision": lead.decision}  # fmt: skip


def _checked_mutation(
    env: MutationEnvelope, received: datetime
) -> tuple[Mutation, datetime] | tuple[str, str, None]:
    """The mutation and the rep's time for it, or ("invalid", error, None) for one that can
    never apply (it is still processed: one bad mutation never blocks the rest)."""
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
        return m, _utc(m.at) or received
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00
        return "invalid", "bad_mutation:at", None


def _event(work: _Push, m: Mutation, lead: Any, kind: str, **fields: Any) -> dict[str, Any]:
    return dict(
        lead_id=lead.id, user_id=work.caller.id, kind=kind, client_id=work.client_id,
        mutation_seq=m.seq, received_at=work.received, **fields,
    )  # fmt: skip


def _decide(work: _Push, m: Mutation, lead: Any, client_at: datetime) -> _Applied:
    if m.outcome is None:
        return "invalid", "outcome_required", None
    outcome = domain.outcome_of(m.outcome)
    error = work.policy.check_decision(outcome, m.reason, m.note)
    if error is None and m.bant:
        error = work.policy.check_bant(m.bant)
    if error is not None:
        return "invalid", error, None
    effective = domain.clamp_time(client_at, lead.assigned_at, work.received)
    nurture_until = m.nurture_until if outcome is domain.Outcome.NURTURE else None
    error = domain.nurture_until_error(nurture_until, effective)
    if error is not None:
        return "invalid", error, None
    # A decision keeps the identity of its first sending, also when a rep sends it again
    # after a restore: the same decision is never applied twice.
    decision_id = (
        f"{m.origin.client_id}:{m.origin.seq}" if m.origin else f"{work.client_id}:{m.seq}"
    )
    if lead.status != domain.Status.OPEN:
        if (lead.decision or {}).get("id") == decision_id:
            return "applied", "unchanged", None  # this very decision stands already
        return "conflict", "already_decided", None
    lead.status, lead.bant, lead.decision = domain.apply(
        lead.status, lead.bant, lead.decision,
        {"type": "decide", "outcome": outcome.value, "reason": m.reason, "note": m.note,
         "bant": m.bant, "nurture_until": nurture_until, "at": _iso(client_at)},
        by=work.caller.email, decision_id=decision_id,
    )  # fmt: skip
    lead.decided_at = effective
    lead.first_decided_at = _first_decision(lead, effective)
    return "applied", None, _event(
        work, m, lead, "decide", outcome=outcome.value, reason=lead.decision["reason"],
        note=m.note, nurture_until=nurture_until, client_at=client_at, effective_at=effective,
        decision_id=decision_id,
    )  # fmt: skip


def _first_decision(lead: Any, effective: datetime) -> datetime:
    """The assignment's first decision once `lead` is decided at `effective`: the earlier
    of this one and one made before in the same assignment (then undone); a time from
    before the assignment (an earlier cycle's) does not count."""
    first = _utc(lead.first_decided_at)
    start = _utc(lead.assigned_at)
    if first is None or (start is not None and first < start):
        return effective
    return min(first, effective)


def _bant(work: _Push, m: Mutation, lead: Any, client_at: datetime) -> _Applied:
    if not m.bant:
        return "invalid", "bant_required", None
    error = work.policy.check_bant(m.bant)
    if error is not None:
        return "invalid", error, None
    _, merged, _ = domain.apply(
        lead.status, lead.bant, lead.decision, {"type": "bant", "bant": m.bant}, by=None
    )
    if merged == lead.bant:
        return "applied", "unchanged", None
    lead.bant = merged
    return "applied", None, None


def _reopen(work: _Push, m: Mutation, lead: Any, client_at: datetime) -> _Applied:
    if lead.status == domain.Status.OPEN:
        return "conflict", "not_decided", None
    standing = lead.decision or {}
    if standing.get("by") != work.caller.email:
        return "conflict", "not_own_decision", None
    # An undo names the decision it undoes: never another one (say, the same rep's decision
    # from another device, made after this one was refused).
    if m.reopens is not None and standing.get("id") not in (None, m.reopens):
        return "conflict", "not_own_decision", None
    effective = domain.clamp_time(client_at, lead.assigned_at, work.received)
    lead.status, lead.bant, lead.decision = domain.apply(
        lead.status, lead.bant, lead.decision, {"type": "reopen"}, by=work.caller.email
    )
    lead.decided_at = None
    return "applied", None, _event(
        work, m, lead, "reopen", outcome=None, reason=None, note=None, nurture_until=None,
        client_at=client_at, effective_at=effective, decision_id=standing.get("id"),
    )  # fmt: skip
