"""Webhook events: their types, ids and bodies, and the outbox that a write transaction
fills. `Outbox.of(session)` collects the events of a change as the services make it and
writes them, one row per subscribed endpoint, just before that transaction commits: an
event exists exactly when its cause does.

An event's id never changes: it is derived from what caused it, never drawn at random.
A decision's events from the decision's identity (the client id and seq of the mutation
that first made it), so a decision a rep sends again after a server restore gives the
same id; other events from the server's id, its history epoch and the change number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, literal_column, select
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.models_webhooks import SEEN_AGAIN, WebhookEndpoint, WebhookOutbox

DECIDED = "lead.decided"
REOPENED = "lead.reopened"
ASSIGNED = "lead.assigned"
NURTURE_DUE = "lead.nurture_due"
EVENT_TYPES = (DECIDED, REOPENED, ASSIGNED, NURTURE_DUE)
TEST = "webhook.test"  # sent by `webhook test`, outside the outbox and its sequence

_STATUS = {"accept": "accepted", "reject": "rejected", "nurture": "nurture"}


def event_id(kind: str, origin: str, lead_id: str | None) -> str:
    """The event's id: the same for the same cause, on every endpoint and every attempt.
    The lead is part of it: after a restore a client numbers new mutations again from
    what the server knows, so one "client_id:seq" may name decisions of two leads."""
    return "evt_" + hashlib.sha256(f"{kind}|{origin}|{lead_id}".encode()).hexdigest()[:32]


def body(
    *, event_id: str, kind: str, created_at: datetime, server_id: str, epoch: int,
    sequence: int | None, data: str,
) -> bytes:  # fmt: skip
    """The bytes sent: the same for every attempt (`data` is the JSON frozen in the outbox)."""
    head = {
        "id": event_id,
        "type": kind,
        "created_at": domain.format_time(_aware(created_at)),
        "server_id": server_id,
        "epoch": epoch,
        "sequence": sequence,
    }
    text = json.dumps(head, separators=(",", ":"))
    return (text[:-1] + ',"data":' + data + "}").encode()


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _label(policy: domain.Policy, outcome: str | None, code: str | None) -> str | None:
    if not outcome or not code or outcome == "accept":
        return None
    reason = policy.reason(outcome, code)
    return reason.label if reason else None


@dataclass(slots=True)
class _Event:
    kind: str
    origin: str | None  # None: derived from the change number at flush
    change: int
    lead_id: str | None
    created_at: datetime
    data: str
    only: frozenset[int] | None = None  # these endpoints only (None: every subscriber)
    new: bool = False  # its cause is new: no need to look for its event in the outbox
    event_seq: int | None = None  # lead.decided: its feedback event (see decided_data)


# Called (from the writer's thread) after a transaction that wrote events commits: the
# delivery task of this process wakes at once instead of at its next poll.
WRITTEN: set[Callable[[frozenset[int]], None]] = set()  # called with the endpoints' ids


class Outbox:
    """The webhook events of one write transaction, written when it commits."""

    KEY = "triage.webhooks.outbox"

    @classmethod
    def of(cls, s: Session) -> Outbox:
        box = s.info.get(cls.KEY)
        if box is None:
            box = s.info[cls.KEY] = cls(s)
        return box

    def __init__(self, s: Session):
        self.s = s
        # Each endpoint's last sequence number, read here once: a write transaction (the
        # only kind that makes an Outbox) holds the writers' lock, so none can change it.
        last = (
            select(func.max(WebhookOutbox.seq))
            .where(WebhookOutbox.endpoint_id == WebhookEndpoint.id)
            .scalar_subquery()
        )
        rows = s.execute(select(WebhookEndpoint.id, WebhookEndpoint.events, last)).all()
        self.endpoints: dict[int, frozenset[str]] = {i: frozenset(ev or ()) for i, ev, _ in rows}
        self._tops: dict[int, int] = {i: top or 0 for i, _, top in rows}
        self.events: list[_Event] = []
        self._policy: domain.Policy | None = None
        self._wanted: dict[str, bool] = {}
        self._labels: dict[tuple[str | None, str | None], str | None] = {}
        self._frozen: dict[tuple[Any, ...], str] = {}
        self.wrote: set[int] = set()  # endpoints that got rows, until the commit says so
        if self.endpoints:
            sa_event.listen(s, "before_commit", self._before_commit)
            sa_event.listen(s, "after_commit", self._after_commit)

    @property
    def policy(self) -> domain.Policy:
        """The policy the reason labels come from: the caller's, else the current one."""
        if self._policy is None:
            doc = self.s.execute(
                select(models.PolicyDoc).order_by(models.PolicyDoc.version.desc()).limit(1)
            ).scalar_one_or_none()
            self._policy = (
                domain.Policy.from_dict(doc.body, version=doc.version)
                if doc is not None
                else domain.DEFAULT_POLICY
            )
        return self._policy

    @policy.setter
    def policy(self, policy: domain.Policy) -> None:
        self._policy = policy
        self._labels = {}

    def wants(self, kind: str) -> bool:
        wanted = self._wanted.get(kind)
        if wanted is None:
            wanted = self._wanted[kind] = any(kind in t for t in self.endpoints.values())
        return wanted

    def _label(self, outcome: str | None, code: str | None) -> str | None:
        key = (outcome, code)
        if key not in self._labels:
            self._labels[key] = _label(self.policy, outcome, code)
        return self._labels[key]

    def add(
        self, kind: str, lead: Any, data: dict[str, Any], at: datetime, *,
        origin: str | None = None, only: frozenset[int] | None = None,
    ) -> None:  # fmt: skip
        """An event about `lead` (data: the event's own fields; the lead's ids, campaign
        and source are added). `origin`: what the id derives from (a decision's
        identity); without it, the server, its epoch and the lead's change number. Only
        an event whose cause may come again (SEEN_AGAIN) is looked for in the outbox."""
        if not self.wants(kind):
            return
        data = {"lead_id": lead.id, "external_id": lead.external_id,
                "campaign": lead.campaign, "source": lead.source, **data}  # fmt: skip
        text = _ENCODE(data)
        new = kind not in SEEN_AGAIN
        self.events.append(_Event(kind, origin, lead.seq, lead.id, at, text, only, new))

    # ------------------------------------------------------------- what the services call

    def decision_event(
        self, feedback: dict[str, Any], lead: Any, before: tuple[str, dict[str, Any] | None],
        rep: str,
    ) -> None:  # fmt: skip
        """lead.decided or lead.reopened for a rep's decision or undo (a feedback event
        as services.sync makes it); `before`: the lead's status and decision before it."""
        status, decision = before
        at = feedback["effective_at"]
        if feedback["kind"] == "decide":
            if not self.wants(DECIDED):
                return
            d = lead.decision or {}
            key = (
                lead.campaign,
                lead.source,
                status,
                self._label(d.get("outcome"), d.get("reason")),
            )
            frozen = self._frozen.get(key)
            if frozen is None:
                frozen = self._frozen[key] = _ENCODE(dict(zip(_FROZEN, key, strict=True)))
            # New, also when sent again after a restore: the restored outbox cannot have it
            # (had the server kept the decision, it would stand, and be no change now).
            self.events.append(_Event(
                DECIDED, feedback["decision_id"], lead.seq, lead.id, feedback["received_at"],
                frozen, None, True, feedback["seq"],
            ))  # fmt: skip
        elif feedback["kind"] == "reopen":
            self.reopened(lead, status, decision, by=rep, cause="undo", at=at,
                          created_at=feedback["received_at"])  # fmt: skip

    def reopened(
        self, lead: Any, status: str, decision: dict[str, Any] | None, *, by: str | None,
        cause: str, at: datetime, created_at: datetime | None = None,
    ) -> None:  # fmt: skip
        """lead.reopened: the decision that stood no longer does (`cause` undo: its rep took
        it back; reassigned: marketing gave the decided lead a new cycle)."""
        d = decision or {}
        self.add(REOPENED, lead, {
            "status": lead.status, "previous_status": status, "cause": cause, "by": by,
            "previous_outcome": d.get("outcome"), "previous_reason": d.get("reason"),
            "previous_reason_label": self._label(d.get("outcome"), d.get("reason")),
            "rep": d.get("by"), "at": domain.format_time(at), "decision_id": d.get("id"),
        }, created_at or at, origin=d.get("id"))  # fmt: skip

    def assigned(self, lead: Any, owner: str, previous_owner_id: int | None, at: datetime) -> None:
        """lead.assigned: the lead has a new owner (import, assign, assign by filter)."""
        if not self.wants(ASSIGNED):
            return
        previous = self.s.get(models.User, previous_owner_id) if previous_owner_id else None
        self.add(ASSIGNED, lead, {
            "owner": owner, "previous_owner": previous.email if previous else None,
            "status": lead.status, "assigned_at": domain.format_time(at),
        }, at)  # fmt: skip

    def nurture_due(self, lead: Any, rep: str | None, at: datetime, only: frozenset[int]) -> None:
        """lead.nurture_due: a nurtured lead's re-entry date has come (once per decision)."""
        d = lead.decision or {}
        data = {
            "status": lead.status,
            "nurture_until": d.get("nurture_until"),
            "reason": d.get("reason"),
            "reason_label": self._label("nurture", d.get("reason")),
            "note": d.get("note"),
            "rep": rep,
            "decided_at": d.get("at"),
            "decision_id": d.get("id"),
        }
        self.add(NURTURE_DUE, lead, data, at, origin=d.get("id"), only=only)

    # ------------------------------------------------------------------------- writing

    def _before_commit(self, s: Session) -> None:
        if s is self.s and self.events:
            self.flush()

    def _after_commit(self, s: Session) -> None:
        if s is self.s and self.wrote:
            written, self.wrote = frozenset(self.wrote), set()
            for wake in list(WRITTEN):
                wake(written)

    def flush(self) -> None:
        """Write the events collected: one row per subscribed endpoint, numbered after the
        endpoint's last (writers are serialised, so the numbers have no gaps); an event
        an endpoint already has (the same cause, seen again) is not written twice."""
        events, self.events = self.events, []
        info = self.s.get(models.ServerInfo, 1)
        assert info is not None, "the schema migrations make this row"
        server_id, epoch = info.server_id, info.epoch
        named = []
        for e in events:
            origin = e.origin or f"{server_id}:{epoch}:{e.change}"
            kept = None if e.event_seq is not None else origin[:120]  # else: in its event
            named.append((e, event_id(e.kind, origin, e.lead_id), kept))
        have = self._existing([eid for e, eid, _ in named if not e.new])
        tops = self._tops
        rows = []
        for e, eid, origin in named:
            for ep, types in self.endpoints.items():
                if e.kind not in types or (e.only is not None and ep not in e.only):
                    continue
                if (eid, ep) in have:
                    continue
                tops[ep] += 1
                have.add((eid, ep))
                rows.append((ep, tops[ep], eid, e.kind, e.lead_id, origin, epoch, e.created_at,
                             e.event_seq, e.data, "pending", 0))  # fmt: skip
        if rows:
            self._write(rows)
            self.wrote.update(r[0] for r in rows)

    _COLUMNS = ("endpoint_id", "seq", "event_id", "type", "lead_id", "origin", "epoch",
                "created_at", "event_seq", "data", "state", "attempts")  # fmt: skip

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """The rows, straight through the driver (a push writes thousands): the time
        column converted as its type does, once per distinct time, not per row. A row of
        a type whose cause may come again that the endpoint has already is skipped."""
        conn = self.s.connection()
        dialect = conn.dialect
        kind = WebhookOutbox.__table__.c.created_at.type
        convert = kind.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            at = self._COLUMNS.index("created_at")
            times: dict[datetime, Any] = {}
            for r in rows:
                if r[at] not in times:
                    times[r[at]] = convert(r[at])
            rows = [(*r[:at], times[r[at]], *r[at + 1 :]) for r in rows]
        names = ", ".join(self._COLUMNS)
        if dialect.name == "sqlite":  # in process: executemany is as good as it gets
            # (OR IGNORE: an event of a type whose cause may come again, already here)
            marks = ", ".join("?" * len(self._COLUMNS))
            sql = f"INSERT OR IGNORE INTO webhookoutbox ({names}) VALUES ({marks})"
            conn.exec_driver_sql(sql, rows)
            return
        # PostgreSQL: COPY, a tenth of the time of INSERTs (each row its own statement, or
        # thousands of parameters to bind); the types whose cause may come again, which a
        # unique index guards, by INSERT ... ON CONFLICT DO NOTHING
        again = [dict(zip(self._COLUMNS, r, strict=True)) for r in rows if r[3] in SEEN_AGAIN]
        if again:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(WebhookOutbox.__table__).on_conflict_do_nothing(), again)
        plain = [r for r in rows if r[3] not in SEEN_AGAIN]
        if plain:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY webhookoutbox ({names}) FROM STDIN") as cp:
                for r in plain:
                    cp.write_row(r)

    def _existing(self, ids: list[str]) -> set[tuple[str, int]]:
        found: set[tuple[str, int]] = set()
        unique = sorted(set(ids))
        for i in range(0, len(unique), 500):
            found.update(
                self.s.execute(
                    select(WebhookOutbox.event_id, WebhookOutbox.endpoint_id).where(
                        WebhookOutbox.event_id.in_(unique[i : i + 500]),
                        WebhookOutbox.type.in_([literal_column(f"'{k}'") for k in SEEN_AGAIN]),
                    )
                ).all()
            )
        return found


_FROZEN = ("campaign", "source", "previous_status", "reason_label")


def decided_data(
    frozen: str, lead_id: str, external_id: str | None, rep: str | None, feedback: Any
) -> str:
    """lead.decided's data: what was frozen in the outbox row, and the decision as its
    feedback event (never changed once written) says; the same text for the same rows."""
    kept = json.loads(frozen)
    until = feedback.nurture_until
    return _ENCODE({
        "lead_id": lead_id, "external_id": external_id, "campaign": kept["campaign"],
        "source": kept["source"], "outcome": feedback.outcome,
        "status": _STATUS.get(feedback.outcome), "previous_status": kept["previous_status"],
        "reason": feedback.reason, "reason_label": kept["reason_label"], "note": feedback.note,
        "nurture_until": until.isoformat() if until else None, "rep": rep,
        "at": domain.format_time(_aware(feedback.effective_at)),
        "decision_id": feedback.decision_id,
    })  # fmt: skip


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return domain.format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


_ENCODE = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode
