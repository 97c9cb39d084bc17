"""The server's tables (SQLModel). Times are aware UTC (SQLModel's UTCDateTime)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Index,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    event,
)
from sqlmodel import Field, SQLModel


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=320)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    created_at: datetime
    # A deactivated user's tokens are refused (401); their leads stay assigned (migration 0003).
    active: bool = True


class Token(SQLModel, table=True):
    """A token is stored only as its SHA-256; the token itself is shown once.

    `public_id` names it in lists and revocations (random, neither the secret nor its
    hash). A token is refused once revoked, once past `expires_at`, or while its user is
    deactivated. `last_used_at` is written at most once a minute (migration 0003).
    """

    hash: str = Field(primary_key=True, max_length=64)
    public_id: str = Field(unique=True, index=True, max_length=16)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class Counter(SQLModel, table=True):
    """The change sequence: one row, bumped inside every writing transaction.

    Every writer locks this row first, so writers are serialised and change
    numbers commit in the order they were given out (a reader never sees seq
    N+1 committed while N is still in flight).
    """

    name: str = Field(primary_key=True, max_length=20)
    value: int = 0


class Lead(SQLModel, table=True):
    __table_args__ = (
        Index("ix_lead_owner_seq", "owner_id", "seq"),
        Index("ix_lead_email_key", "email_key", "status"),
    )

    id: str = Field(primary_key=True, max_length=24)
    external_id: str = Field(unique=True, max_length=500)
    version: int = 1
    seq: int = Field(index=True)
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    name: str
    email: str
    # The email as imports match duplicates: stripped and Unicode case-folded by Python
    # (folded_email), the same on both engines (SQLite's lower() folds ASCII only). Written
    # with `email` by every write (the listener below, the import's insert), migration 0017.
    email_key: str | None = None
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    company_size: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    score: int | None = None  # NULL: no score (migration 0007; 0 before it)
    mql_at: datetime | None = None
    assigned_at: datetime | None = None
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    activities: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    bant: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=10)
    decision: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    decided_at: datetime | None = None  # the decision's time, clamped for reports
    # The standing decision's reason code, kept beside its JSON for the reports' indexes
    # (SQLite 3.40 cannot cover an index on a JSON expression): written with `decision`
    # by every write (standing_reason), migration 0009.
    decision_reason: str | None = Field(default=None, max_length=200)
    # When the current assignment was first decided (the first decision's clamped time):
    # the end of the time to decision. Set by a decision (the earliest, when one is undone
    # and made again), kept through an undo, cleared when a new assignment or cycle starts
    # (migration 0011).
    first_decided_at: datetime | None = None
    # Hours from the SLA clock's start (assigned_at, else mql_at) to first_decided_at: the
    # time to decision the reports take medians of and hold against the SLA, as a number
    # so that they compute nothing a lead; written with first_decided_at (decision_hours,
    # by the listener below and the push), migration 0015.
    decision_hours: float | None = None
    # The standing decision's re-entry date (a nurture's `nurture_until`), beside its JSON
    # for the nurture list's index: written with `decision` like decision_reason
    # (standing_until), migration 0012.
    nurture_until: date | None = None
    # Earlier cycles: each decision set aside when marketing reassigned the decided lead
    # (assign --force), in order, notes included; served without notes (migration 0004).
    history: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The columns of marketing's file no import map placed, typed (domain.attributes), and
    # the open lead with the same email when it was imported: {id, external_id, name,
    # owner} (migration 0007).
    attributes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    duplicate_of: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The model's suggestion when the lead was assigned: {outcome, reason, confidence,
    # factors, model} (triage.server.suggest.scoring; migration 0014). NULL: none.
    suggestion: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The suggestion as a rep is sent it: its JSON text without `model`, the same as a list
    # [outcome, reason, confidence, factors] ("suggestion_list"), and its confidence (NULL
    # unless a number): written with `suggestion` (suggestion_columns; the listener below,
    # the import's insert), so that a pull pastes the text and tests the policy's
    # threshold without reading the JSON (migration 0021).
    suggestion_sent: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    suggestion_list: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    suggestion_confidence: float | None = None
    created_at: datetime
    updated_at: datetime


def folded_email(email: str | None) -> str | None:
    """What a lead's `email_key` column holds: its email stripped and case-folded
    (str.casefold: "ÉMILE" and "émile", "STRASSE" and "straße" are one)."""
    return email.strip().casefold() if email is not None else None


# The decision id of a past decision imported from a CRM's file (`triage server import
# --history`): made before Triage, by nobody Triage knows.
HISTORY_DECISION_ID = "history"


def standing_reason(decision: dict[str, Any] | None) -> str | None:
    """The reason code a lead's `decision_reason` column holds for its decision."""
    reason = (decision or {}).get("reason")
    return reason if isinstance(reason, str) and reason else None


def standing_until(decision: dict[str, Any] | None) -> date | None:
    """The re-entry date a lead's `nurture_until` column holds for its decision."""
    until = (decision or {}).get("nurture_until")
    if not isinstance(until, str) or not until:
        return None
    try:
        return date.fromisoformat(until[:10])
    except ValueError:
        return None


def decision_hours(lead: Any) -> float | None:
    """The number a lead's `decision_hours` column holds: hours from its SLA clock's start
    (assigned_at, else mql_at) to its assignment's first decision; None while undecided."""
    start = lead.assigned_at or lead.mql_at
    if lead.first_decided_at is None or start is None:
        return None
    return (_as_utc(lead.first_decided_at) - _as_utc(start)).total_seconds() / 3600.0


# JSON as the server writes it for the wire: compact, not ASCII-escaped, no NaN
# (services.common pastes lead JSON with it too).
compact_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def suggestion_columns(suggestion: Any) -> tuple[str | None, str | None, float | None]:
    """What a lead's `suggestion_sent`, `suggestion_list` and `suggestion_confidence`
    columns hold for its stored `suggestion`: the JSON a rep is sent (all of it but
    `model`), the same as a list, and the confidence when it is a number."""
    if not isinstance(suggestion, dict):
        return None, None, None
    confidence = suggestion.get("confidence")
    number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    sent = compact_json({k: v for k, v in suggestion.items() if k != "model"})
    factors = suggestion.get("factors")
    listed = compact_json([suggestion.get("outcome"), suggestion.get("reason"), confidence,
                       factors if isinstance(factors, list) else []])  # fmt: skip
    return sent, listed, float(confidence) if number else None


def give_suggestion(lead: Any, suggestion: dict[str, Any] | None) -> None:
    """Set a lead's suggestion with the two columns made of it (an ORM row or the
    import's record of a new lead)."""
    lead.suggestion = suggestion
    _keep_suggestion_columns(lead)


def _keep_suggestion_columns(lead: Any) -> None:
    made = suggestion_columns(lead.suggestion)
    lead.suggestion_sent, lead.suggestion_list, lead.suggestion_confidence = made


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


@event.listens_for(Lead, "before_insert")
@event.listens_for(Lead, "before_update")
def _keep_reason(_mapper: Any, _conn: Any, lead: Lead) -> None:
    lead.email_key = folded_email(lead.email)
    lead.decision_reason = standing_reason(lead.decision)
    lead.nurture_until = standing_until(lead.decision)
    lead.decision_hours = decision_hours(lead)
    _keep_suggestion_columns(lead)


class LeadAttribute(SQLModel, table=True):
    """A lead's attributes one a row, beside its JSON (`lead.attributes`), so that a
    breakdown crossed by an attribute joins the report indexes with this narrow table by
    lead id instead of reading the wide lead rows (migration 0018). Kept in step by every
    writer of `attributes` (the imports: services.leads.write_attributes); `value` is the
    text a crossing shows (attribute_display). Primary key (key, lead_id): a crossing reads
    one key; it covers the value (without a rowid on SQLite, INCLUDE on PostgreSQL), so the
    join reads the key's index entries alone."""

    __table_args__ = (
        PrimaryKeyConstraint("key", "lead_id", postgresql_include=["value"]),
        {"sqlite_with_rowid": False},
    )

    key: str = Field(max_length=64)
    lead_id: str = Field(foreign_key="lead.id", max_length=24)
    value: str


def attribute_display(value: Any) -> str | None:
    """An attribute's value as a crossing shows it, the same on both engines: text as it
    is, numbers as the JSON writes them, true/false; None (no row) for a JSON null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # json.dumps writes a finite float as its repr
    return str(value)


def attribute_rows(lead_id: str, attributes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A lead's LeadAttribute rows, as executemany takes them."""
    out = []
    for key, value in (attributes or {}).items():
        text = attribute_display(value)
        if text is not None:
            out.append({"key": key, "lead_id": lead_id, "value": text})
    return out


class Revocation(SQLModel, table=True):
    """A lead that left a rep (reassigned): served in that rep's `revoked`."""

    __table_args__ = (Index("ix_revocation_user_seq", "user_id", "seq"),)

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    lead_id: str = Field(foreign_key="lead.id", primary_key=True, max_length=24)
    seq: int


class ClientState(SQLModel, table=True):
    client_id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="user.id", index=True)
    last_seq: int = 0
    updated_at: datetime


class MutationLog(SQLModel, table=True):
    """The stored result of each processed (client_id, seq)."""

    __table_args__ = (UniqueConstraint("client_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=36)
    seq: int
    lead_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=12)
    error: str | None = Field(default=None, max_length=40)
    processed_at: datetime


class Event(SQLModel, table=True):
    """The feedback stream: every decision and reopening, numbered by the change sequence."""

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    lead_id: str = Field(foreign_key="lead.id", index=True, max_length=24)
    user_id: int = Field(foreign_key="user.id")
    kind: str = Field(max_length=10)
    outcome: str | None = Field(default=None, max_length=10)
    reason: str | None = Field(default=None, max_length=64)
    note: str | None = None
    nurture_until: date | None = None
    client_at: datetime
    effective_at: datetime
    received_at: datetime
    # A decision's identity, "client_id:seq" of the mutation that first made it (the same
    # when a rep sends it again after a server restore); and the mutation that made this
    # event (reopen events: the reopen's own). NULL before revision 0005 and for reassign.
    decision_id: str | None = Field(default=None, max_length=80)
    client_id: str | None = Field(default=None, max_length=36)
    mutation_seq: int | None = None


class ChangeLog(SQLModel, table=True):
    """One row per change number, append-only: what changed and a random digest. A client
    presents the digest of the last change it pulled; a different digest at that number
    means the server's history went back (a restore), and the pull answers reset."""

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    digest: str = Field(max_length=16)
    lead_id: str | None = Field(default=None, max_length=24)
    kind: str = Field(max_length=12)
    at: datetime = Field(index=True)


class PolicyDoc(SQLModel, table=True):
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime


class ServerInfo(SQLModel, table=True):
    """The server's identity, one row made with the database (migration 0002).

    `server_id` never changes; `epoch` starts at 1 and is raised whenever the server's
    history may have gone back (a restore), so that clients can tell.
    """

    __table_args__ = (CheckConstraint("id = 1", name="ck_serverinfo_one_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    server_id: str = Field(max_length=36)
    epoch: int = 1
    created_at: datetime
