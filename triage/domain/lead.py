"""A lead and what a rep says of it: statuses, outcomes, BANT answers, decisions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

BANT_KEYS: tuple[str, ...] = ("budget", "authority", "need", "timing")


class Status(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NURTURE = "nurture"


class Outcome(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    NURTURE = "nurture"

    @property
    def status(self) -> Status:
        return _OUTCOME_STATUS[self]


_OUTCOME_STATUS = {
    Outcome.ACCEPT: Status.ACCEPTED,
    Outcome.REJECT: Status.REJECTED,
    Outcome.NURTURE: Status.NURTURE,
}

# A member by its value or by itself (a StrEnum member hashes and compares as its value):
# a dict lookup is a tenth of an Enum call, and a sync of 10,000 decisions made 30,000.
_STATUSES: dict[str, Status] = {s.value: s for s in Status}
_OUTCOMES: dict[str, Outcome] = {o.value: o for o in Outcome}


def status_of(value: Any) -> Status:
    """Status(value), as fast as a dict lookup; the same ValueError for anything else."""
    try:
        return _STATUSES[value]
    except (KeyError, TypeError):
        return Status(value)


def outcome_of(value: Any) -> Outcome:
    """Outcome(value), as fast as a dict lookup; the same ValueError for anything else."""
    try:
        return _OUTCOMES[value]
    except (KeyError, TypeError):
        return Outcome(value)


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


_ANSWERS = frozenset(a.value for a in Answer)
ANSWER_CYCLE = (Answer.UNKNOWN, Answer.YES, Answer.NO)


def next_answer(current: str | None) -> Answer:
    """The answer after `current` in the cycle unknown -> yes -> no -> unknown."""
    try:
        i = ANSWER_CYCLE.index(Answer(current or Answer.UNKNOWN))
    except ValueError:
        i = 0
    return ANSWER_CYCLE[(i + 1) % len(ANSWER_CYCLE)]


class Role(StrEnum):
    REP = "rep"
    MARKETING = "marketing"


@dataclass(frozen=True, slots=True)
class Activity:
    at: datetime
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str | None
    note: str | None
    at: datetime
    by: str | None = None
    nurture_until: date | None = None
    id: str | None = None  # "client_id:seq" of its first sending (servers with "origin")


@dataclass(frozen=True, slots=True)
class PastDecision:
    """A decision of an earlier cycle of the lead (before marketing reassigned it): what its
    new owner may see of it, never the note."""

    outcome: Outcome
    reason: str | None
    at: datetime
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The server's model of the team's decisions on this lead, made when it was assigned:
    the likeliest outcome, a rejection's likeliest reason, the outcome's probability (0 to
    1) and the factors that weigh most, as a rep reads them ("title Student"). Advice only:
    nothing is decided without the rep."""

    outcome: Outcome
    reason: str | None
    confidence: float
    factors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Lead:
    id: str
    external_id: str
    name: str
    email: str
    version: int = 1
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    company_size: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    score: int | None = None  # None: no score (an import left it empty), never 0
    mql_at: datetime | None = None
    assigned_at: datetime | None = None
    owner: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)
    activities: tuple[Activity, ...] = ()
    bant: dict[str, str] = field(default_factory=dict)
    status: Status = Status.OPEN
    decision: Decision | None = None
    history: tuple[PastDecision, ...] = ()  # earlier cycles, oldest first
    # What marketing's file said beyond Triage's fields (domain.attributes), and the open
    # lead with the same email this one may duplicate: {id, external_id, name, owner}.
    attributes: dict[str, Any] = field(default_factory=dict)
    duplicate_of: dict[str, str] = field(default_factory=dict)
    suggestion: Suggestion | None = None  # the server's suggested verdict, if any

    def bant_answer(self, key: str) -> Answer:
        try:
            return Answer(self.bant.get(key, Answer.UNKNOWN))
        except ValueError:
            return Answer.UNKNOWN

    def has_bant_no(self) -> bool:
        return any(v == Answer.NO for v in self.bant.values())

    def decided(self, decision: Decision) -> Lead:
        return replace(self, status=decision.outcome.status, decision=decision)

    def reopened(self) -> Lead:
        return replace(self, status=Status.OPEN, decision=None)


@dataclass(frozen=True, slots=True)
class LeadState:
    """A lead's changeable part at a server version: what a push answer carries in place of
    the whole lead when the rep's mutation was the only change since the version the rep
    had (protocol feature "push_patch")."""

    id: str
    version: int
    status: Status
    bant: dict[str, str]
    decision: Decision | None
