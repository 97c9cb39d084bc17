"""What the store hands out: plain records (never rows read by position), and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from triage import domain
from triage.domain import BANT_KEYS


class StoreError(Exception):
    """The database cannot be used (not ours, corrupt, newer, closed, I/O error)."""


class ActionError(Exception):
    """A user action that was refused; nothing was written. `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SyncState:
    cursor: int
    last_seq: int  # the server's last processed seq for this client, as last reported
    last_sync: datetime | None
    last_error: str | None
    policy_version: int  # 0 until a policy has been saved
    cursor_digest: str | None = None  # the server's digest of the change at `cursor`
    acked_seq: int = 0  # the highest last_seq the server ever reported for this client
    healing: bool = False  # the server's history went back; the heal has not finished
    server_id: str | None = None  # the server this queue belongs to (once known)
    epoch: int | None = None  # its history's epoch, as last seen


@dataclass(frozen=True, slots=True)
class Healed:
    """What a heal did after the server's history went back."""

    resent: int  # decisions (and undos) the server had lost, queued again
    revoked: int  # leads no longer the rep's on the restored server
    conflicts: int  # cards made (what was sent again; what could not be)


@dataclass(frozen=True, slots=True)
class PullApplied:
    leads: int  # server lead states written
    revoked: int  # leads removed because they are no longer the rep's
    conflicts: int  # conflict rows made from mutations of revoked leads
    processed: int  # outbox rows dropped because the server's last_seq covers them
    reset_dropped: int = 0  # leads dropped by a reset


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    lead_id: str
    type: str  # decide | bant | reopen
    payload: dict[str, Any]  # outcome, reason, note, bant, nurture_until, at, base_version


@dataclass(frozen=True, slots=True)
class PushResult:
    seq: int
    status: str  # applied | duplicate | conflict | invalid | out_of_order
    error: str | None = None
    lead: domain.Lead | None = None
    stored: str | None = None  # with duplicate: what the first processing answered
    # ("push_patch") In place of `lead`: what the mutation changed of the lead as sent.
    patch: domain.LeadState | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: str
    name: str
    title: str | None
    company: str | None
    source: str | None
    campaign: str | None
    score: int | None  # None: no score
    mql_at: datetime | None
    status: str
    bant: tuple[str, str, str, str]  # answers in BANT_KEYS order
    pending: bool  # the lead has outbox rows the server has not answered yet
    sla_at: datetime | None = None  # when its SLA clock started (domain.sla_start)
    account: str | None = None  # its account (domain.account_key); None: none
    suggestion: domain.Suggestion | None = None  # no factors; shown as the policy says


@dataclass(frozen=True, slots=True)
class Account:
    """A lead's account (domain.account_key) and the other leads of it in the store."""

    key: str | None  # the domain, or the company's normalised name; None: only an email
    name: str  # what to call it: the lead's company, else the key
    others: dict[str, int]  # the other leads, by status (open, accepted, ...)
    same_email: int = 0  # the other leads with the lead's email (possible duplicates)

    @property
    def count(self) -> int:
        return sum(self.others.values())


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    kind: str  # decide | undo | conflict
    outcome: str | None
    reason: str | None
    note: str | None
    error: str | None = None  # conflict: the server's error code


@dataclass(frozen=True, slots=True)
class ActionResult:
    action_id: str
    count: int
    lead_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UndoResult:
    action_id: str
    kind: str  # decide | bant
    count: int
    via_reopen: bool  # compensating mutations were queued (part of it had been sent)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    pending: int
    conflicts: int
    open: int
    decided_today: int
    last_sync: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PendingCounts:
    """Outbox rows not answered by the server yet: decisions (decide, and reopen: an
    undone decision) apart from BANT checklist answers."""

    decisions: int
    answers: int

    @property
    def total(self) -> int:
        return self.decisions + self.answers

    def parts(self) -> str:
        """`2 decisions, 1 checklist answer`."""
        return f"{_plural(self.decisions, 'decision')}, {_plural(self.answers, 'checklist answer')}"

    def describe(self, state: str = "pending") -> str:
        """`3 changes pending (2 decisions, 1 checklist answer)`; `state` names the state."""
        return f"{_plural(self.total, 'change')} {state} ({self.parts()})"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


@dataclass(frozen=True, slots=True)
class ConflictEntry:
    id: int
    lead_id: str
    lead_name: str | None
    seq: int | None  # None: never sent (its lead was revoked first)
    status: str  # conflict | invalid
    error: str | None
    server_lead: domain.Lead | None
    mutation: dict[str, Any]  # seq, lead_id, type and the payload fields
    created_at: datetime


class LeadRow(NamedTuple):
    """A lead as the queue's projection holds it: its view's status and BANT answers."""

    status: str
    version: int  # the server state's: the base_version of a new mutation
    name: str
    bant: tuple[str, ...]  # answers in BANT_KEYS order

    def answer(self, key: str) -> str:
        return self.bant[BANT_KEYS.index(key)]
