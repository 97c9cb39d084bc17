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
from sqlalchemy import func, insert, select
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.models_webhooks import WebhookEndpoint, WebhookOutbox

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


def _lead(lead: Any) -> dict[str, Any]:
    return {
        "lead_id": lead.id,
        "external_id": lead.external_id,
        "campaign": lead.campaign,
        "source": lead.source,
    }


@dataclass(slots=True)
class _Event:
    kind: str
    origin: str | None  # None: derived from the change number at flush
    change: int
    lead_id: str | None
    created_at: datetime
    data: str
    only: frozenset[int] | None = None  # these endpoints only (None: every subscriber)


# Called (from the writer's thread) after a transaction that wrote events commits: the
# delivery task of this process wakes at once instead of at its next poll.
WRITTEN: set[Callable[[], None]] = set()


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
        rows = s.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)).all()
        self.endpoints: dict[int, frozenset[str]] = {i: frozenset(ev or ()) for i, ev in rows}
        self.events: list[_Event] = []
        self._policy: domain.Policy | None = None
        self.wrote = False
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

    def wants(self, kind: str) -> bool:
        return any(kind in types for types in self.endpoints.values())

    def add(
        self, kind: str, lead: Any, data: dict[str, Any], at: datetime, *,
        origin: str | None = None, only: frozenset[int] | None = None,
    ) -> None:  # fmt: skip
        """An event about `lead` (data: the event's own fields; the lead's ids, campaign
        and source are added). `origin`: what the id derives from (a decision's
        identity); without it, the server, its epoch and the lead's change number."""
        if not self.wants(kind):
            return
        full = {**_lead(lead), **data}
        text = json.dumps(full, separators=(",", ":"), default=_json_default)
        self.events.append(_Event(kind, origin, lead.seq, lead.id, at, text, only))

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
            d = lead.decision or {}
            data = {
                "outcome": d.get("outcome"),
                "status": lead.status,
                "previous_status": status,
                "reason": d.get("reason"),
                "reason_label": _label(self.policy, d.get("outcome"), d.get("reason")),
                "note": d.get("note"),
                "nurture_until": d.get("nurture_until"),
                "rep": rep,
                "at": domain.format_time(at),
                "decision_id": feedback["decision_id"],
            }
            self.add(DECIDED, lead, data, feedback["received_at"], origin=feedback["decision_id"])
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
            "previous_reason_label": _label(self.policy, d.get("outcome"), d.get("reason")),
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
            "reason_label": _label(self.policy, "nurture", d.get("reason")),
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
            self.wrote = False
            for wake in list(WRITTEN):
                wake()

    def flush(self) -> None:
        """Write the events collected: one row per subscribed endpoint, numbered after the
        endpoint's last (writers are serialised, so the numbers have no gaps); an event
        an endpoint already has (the same cause, seen again) is not written twice."""
        events, self.events = self.events, []
        info = self.s.get(models.ServerInfo, 1)
        assert info is not None, "the schema migrations make this row"
        ids = {}
        for e in events:
            origin = e.origin or f"{info.server_id}:{info.epoch}:{e.change}"
            ids[id(e)] = (event_id(e.kind, origin, e.lead_id), origin)
        have = self._existing([i for i, _ in ids.values()])
        tops: dict[int, int] = {}
        rows = []
        for e in events:
            eid, origin = ids[id(e)]
            for ep, types in self.endpoints.items():
                if (
                    e.kind not in types
                    or (eid, ep) in have
                    or (e.only is not None and ep not in e.only)
                ):
                    continue
                if ep not in tops:
                    tops[ep] = self._top(ep)
                tops[ep] += 1
                have.add((eid, ep))
                rows.append({
                    "endpoint_id": ep, "seq": tops[ep], "event_id": eid, "type": e.kind,
                    "lead_id": e.lead_id, "origin": origin[:120], "epoch": info.epoch,
                    "created_at": e.created_at, "data": e.data, "state": "pending",
                    "attempts": 0,
                })  # fmt: skip
        if rows:
            self.s.execute(insert(WebhookOutbox.__table__), rows)
            self.wrote = True

    def _existing(self, ids: list[str]) -> set[tuple[str, int]]:
        found: set[tuple[str, int]] = set()
        unique = sorted(set(ids))
        for i in range(0, len(unique), 500):
            found.update(
                self.s.execute(
                    select(WebhookOutbox.event_id, WebhookOutbox.endpoint_id).where(
                        WebhookOutbox.event_id.in_(unique[i : i + 500])
                    )
                ).all()
            )
        return found

    def _top(self, endpoint_id: int) -> int:
        return int(
            self.s.execute(
                select(func.coalesce(func.max(WebhookOutbox.seq), 0)).where(
                    WebhookOutbox.endpoint_id == endpoint_id
                )
            ).scalar_one()
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return domain.format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
