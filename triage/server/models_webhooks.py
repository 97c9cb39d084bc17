"""The webhook tables (migration 0008): the endpoints marketing added, and the outbox of
events for each, written in the same transaction as the change that caused them.

Imported with the other models (triage.server.db), so every table is known wherever the
models are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, literal_column, text
from sqlmodel import Field, SQLModel


class WebhookEndpoint(SQLModel, table=True):
    """Where events go. `secret` is kept as it is, not hashed (unlike tokens): every
    delivery is signed with it (HMAC-SHA256), and a hash cannot sign. Encrypting it with a
    key kept beside the database would add nothing against someone who can read the
    database, which holds every lead's personal data anyway; it is shown once, never
    listed, and is worth only forging webhooks to this one receiver.

    Delivery state: `state` is active or failing (retried for the retry period without
    success; its events wait for `redeliver`); `retry_at` is when its oldest pending event
    may be tried again; `lease_owner`/`lease_until` name the server instance delivering to
    it now (one at a time, so events arrive in order).
    """

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=100)
    created_at: datetime
    state: str = Field(default="active", max_length=10)
    failing_since: datetime | None = None
    retry_at: datetime | None = None
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = None
    # a rotation's overlap (migration 0015): the secret before, still signed with as well
    # until `previous_until` (then NULL again)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_until: datetime | None = None


# The partial indexes' conditions; a query uses such an index only when it says the same,
# literally (not as a bound parameter): see IS_PENDING, IS_NURTURE_DUE and SEEN_AGAIN.
PENDING = text("state = 'pending'")
NURTURE = text("type = 'lead.nurture_due'")
AGAIN = text("type IN ('lead.reopened', 'lead.nurture_due')")
IS_PENDING = literal_column("'pending'")
IS_NURTURE_DUE = literal_column("'lead.nurture_due'")
SEEN_AGAIN = ("lead.reopened", "lead.nurture_due")  # the types whose cause may come again


class WebhookOutbox(SQLModel, table=True):
    """One event for one endpoint: `seq` numbers the endpoint's events 1, 2, 3... in the
    order they happened (within an epoch); `event_id` is the same for every endpoint and
    every attempt; what the body says is frozen when written (`data`, and the immutable
    feedback event `event_seq` names), so every attempt sends the same bytes. `origin` is
    what the event id was derived from (a decision's identity, or a change number; for
    lead.decided, the decision id of its feedback event).

    A push writes thousands of rows, so they carry no index on a random key (the event
    id: such an index costs more than the rest of the row): the indexes are appended to
    in order, or partial over the few rows that need them. Every event id is unique by
    construction; the types whose cause may come again (an undo sent again after a
    restore, a nurture date checked by every instance) are also unique by index. No
    foreign key either: an endpoint is removed with its rows, in a write serialised with
    pushes."""

    __table_args__ = (
        UniqueConstraint("endpoint_id", "seq"),
        Index("ix_webhookoutbox_pending", "endpoint_id", "seq",
              sqlite_where=PENDING, postgresql_where=PENDING),
        Index("ix_webhookoutbox_again", "event_id", "endpoint_id", unique=True,
              sqlite_where=AGAIN, postgresql_where=AGAIN),
        Index("ix_webhookoutbox_nurture", "endpoint_id", "lead_id", "origin",
              sqlite_where=NURTURE, postgresql_where=NURTURE),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int
    seq: int
    event_id: str = Field(max_length=40)
    type: str = Field(max_length=40)
    lead_id: str | None = Field(default=None, max_length=24)
    origin: str | None = Field(default=None, max_length=120)
    epoch: int
    created_at: datetime
    # lead.decided: the feedback event of the decision (immutable, written in the same
    # transaction), and in `data` only what may change later (campaign, source, the
    # reason's label); the rest of the body is read from that event. Else NULL, and
    # `data` holds the whole of the event's data.
    event_seq: int | None = None
    data: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", max_length=10)  # pending | delivered
    attempts: int = 0
    first_failed_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_result: str | None = Field(default=None, max_length=200)
    delivered_at: datetime | None = None
    delivered_by: str | None = Field(default=None, max_length=80)
