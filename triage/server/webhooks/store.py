"""What the delivery task reads and writes, in short transactions that never span a
request to a receiver.

Instances share the work through the database. An instance claims an endpoint by writing
its name and a lease into the endpoint's row (on PostgreSQL the claim reads with `FOR
UPDATE SKIP LOCKED`, so two instances never wait on each other nor take the same row; on
SQLite the claim is one `BEGIN IMMEDIATE` transaction). Whoever holds the lease delivers
that endpoint's events one at a time, in sequence order, and renews the lease as it
goes; a lease left by an instance that died runs out and another takes over.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from triage.server import models
from triage.server.db import Database
from triage.server.models_webhooks import (
    IS_NURTURE_DUE,
    IS_PENDING,
    WebhookEndpoint,
    WebhookOutbox,
)
from triage.server.webhooks import events

E, OUT = WebhookEndpoint, WebhookOutbox
LEAD = models.Lead


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    url: str
    secret: str
    retrying: bool  # its oldest event failed before: try that one alone first
    previous_secret: str | None = None  # while a rotation overlaps: signed with it too
    previous_until: datetime | None = None

    def secrets(self, now: datetime) -> tuple[str, ...]:
        return signing_secrets(self.secret, self.previous_secret, self.previous_until, now)


def signing_secrets(
    secret: str, previous: str | None, until: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while a rotation's overlap lasts."""
    until = _utc(until)
    if previous and until is not None and now < until:
        return (secret, previous)
    return (secret,)


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    seq: int
    event_id: str
    type: str
    epoch: int
    created_at: datetime
    data: str
    attempts: int
    first_failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Done:
    """A delivery's outcome, to be recorded."""

    row: Pending
    at: datetime
    result: str


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=timezone.utc)


class DeliveryStore:
    """The outbox as one instance (`owner`) delivering it sees it."""

    def __init__(self, db: Database, owner: str, lease: float):
        self.db = db
        self.owner = owner
        self.lease = timedelta(seconds=lease)
        self._server_id: str | None = None

    @property
    def server_id(self) -> str:
        if self._server_id is None:
            with self.db.read() as s:
                self._server_id = s.execute(select(models.ServerInfo.server_id)).scalar_one()
        return self._server_id

    @staticmethod
    def _due(now: datetime, skip: Iterable[int]) -> Select[Any]:
        waiting = exists().where(OUT.endpoint_id == E.id, OUT.state == IS_PENDING)
        q = select(
            E.id, E.url, E.secret, E.retry_at.is_not(None), E.previous_secret, E.previous_until
        ).where(
            E.state == "active",
            or_(E.lease_until.is_(None), E.lease_until < now),
            or_(E.retry_at.is_(None), E.retry_at <= now),
            waiting,
        )
        skip = list(skip)
        if skip:
            q = q.where(E.id.not_in(skip))
        return q.order_by(E.id)

    def claim(self, now: datetime, limit: int, skip: Iterable[int] = ()) -> list[Claim]:
        """Endpoints with an event due and no live lease, now leased to this instance. A
        read looks first, so an idle outbox never takes SQLite's write lock."""
        skip = list(skip)
        with self.db.read() as s:
            if s.execute(self._due(now, skip).limit(1)).first() is None:
                return []
        with self.db.bookkeeping() as s:
            q = self._due(now, skip).limit(limit)
            if not self.db.is_sqlite:
                q = q.with_for_update(skip_locked=True, of=E)
            found = [Claim(*r) for r in s.execute(q).all()]
            if found:
                s.execute(
                    update(E)
                    .where(E.id.in_([c.id for c in found]))
                    .values(lease_owner=self.owner, lease_until=now + self.lease)
                )
        return found

    def pending(self, endpoint_id: int, limit: int) -> list[Pending]:
        """The endpoint's undelivered events, oldest first, each with its data as sent
        (lead.decided: assembled from the row and the decision's feedback event)."""
        ev, user = models.Event, models.User
        with self.db.read() as s:
            rows = s.execute(
                select(OUT.id, OUT.seq, OUT.event_id, OUT.type, OUT.epoch, OUT.created_at,
                       OUT.data, OUT.attempts, OUT.first_failed_at, OUT.event_seq,
                       OUT.lead_id, LEAD.external_id, ev, user.email)
                .outerjoin(ev, ev.seq == OUT.event_seq)
                .outerjoin(user, user.id == ev.user_id)
                .outerjoin(LEAD, LEAD.id == OUT.lead_id)
                .where(OUT.endpoint_id == endpoint_id, OUT.state == IS_PENDING)
                .order_by(OUT.seq)
                .limit(limit)
            ).all()  # fmt: skip
        out = []
        for r in rows:
            data = r.data
            if r.event_seq is not None:
                data = events.decided_data(r.data, r.lead_id, r.external_id, r.email, r.Event)
            out.append(Pending(r.id, r.seq, r.event_id, r.type, r.epoch, r.created_at, data,
                               r.attempts, _utc(r.first_failed_at)))  # fmt: skip
        return out

    def delivered(self, endpoint_id: int, done: list[Done], now: datetime) -> bool:
        """Record deliveries the receiver took, and renew the lease; False when this
        instance no longer holds it (it ran out and another took it, or the endpoint was
        removed): stop delivering then."""
        with self.db.bookkeeping() as s:
            if done:
                table = WebhookOutbox.__table__  # executemany: the table, not the ORM class
                s.execute(
                    update(table)
                    .where(table.c.id == bindparam("_id"))
                    .values(state="delivered", attempts=bindparam("_attempts"),
                            last_attempt_at=bindparam("_at"), delivered_at=bindparam("_at"),
                            last_result=bindparam("_result"), delivered_by=self.owner,
                            first_failed_at=None),
                    [{"_id": d.row.id, "_attempts": d.row.attempts + 1, "_at": d.at,
                      "_result": d.result[:200]} for d in done],
                )  # fmt: skip
            kept = s.execute(
                update(E)
                .where(E.id == endpoint_id, E.lease_owner == self.owner)
                .values(lease_until=now + self.lease, retry_at=None)
            ).rowcount
        return kept == 1

    def failed(
        self, endpoint_id: int, done: Done, retry_for: timedelta, delay: float
    ) -> datetime | None:
        """Record a failed attempt at the endpoint's oldest event and let the endpoint go:
        retried after `delay` seconds; or, once its first failure is `retry_for` old, the
        endpoint is failing and its events wait for `redeliver`. Returns the retry time
        (None: failing)."""
        first = done.row.first_failed_at or done.at
        give_up = done.at - first >= retry_for
        retry_at = None if give_up else done.at + timedelta(seconds=delay)
        with self.db.bookkeeping() as s:
            s.execute(
                update(OUT)
                .where(OUT.id == done.row.id, OUT.state == IS_PENDING)
                .values(attempts=done.row.attempts + 1, first_failed_at=first,
                        last_attempt_at=done.at, last_result=done.result[:200])
            )  # fmt: skip
            ours = (E.id == endpoint_id, E.lease_owner == self.owner)
            if give_up:
                s.execute(
                    update(E).where(*ours)
                    .values(state="failing", failing_since=done.at, retry_at=None,
                            lease_owner=None, lease_until=None)
                )  # fmt: skip
            else:
                s.execute(
                    update(E).where(*ours)
                    .values(retry_at=retry_at, lease_owner=None, lease_until=None)
                )  # fmt: skip
        return retry_at

    def release(self, endpoint_ids: Iterable[int]) -> None:
        ids = list(endpoint_ids)
        if not ids:
            return
        with self.db.bookkeeping() as s:
            s.execute(
                update(E)
                .where(E.id.in_(ids), E.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    # ------------------------------------------------------------------ nurture due

    def nurture_due(self, now: datetime, tz: str, limit: int = 500) -> int:
        """Write lead.nurture_due for nurtured leads whose re-entry date has come (today in
        the organisation's time zone), once per nurture decision and endpoint, for
        endpoints subscribed since that date. Returns how many leads got one."""
        with self.db.read() as s:
            if not _nurture_candidates(s, now, tz, 1):
                return 0
        with self.db.write() as s:
            found = _nurture_candidates(s, now, tz, limit)
            if not found:
                return 0
            leads = {
                lead.id: lead
                for lead in s.execute(select(LEAD).where(LEAD.id.in_(list(found)))).scalars()
            }
            box = events.Outbox.of(s)
            for lead_id, endpoints in found.items():
                lead = leads[lead_id]
                owner = s.get(models.User, lead.owner_id) if lead.owner_id else None
                box.nurture_due(lead, owner.email if owner else None, now, endpoints)
        return len(found)


def _day(at: datetime, tz: str) -> date:
    return at.astimezone(zoneinfo.ZoneInfo(tz)).date()


def _nurture_candidates(s: Any, now: datetime, tz: str, limit: int) -> dict[str, frozenset[int]]:
    """{lead id: the endpoints that should get its lead.nurture_due and have not}."""
    until = LEAD.decision["nurture_until"].as_string()
    decision_id = LEAD.decision["id"].as_string()
    today = _day(now, tz).isoformat()
    found: dict[str, set[int]] = {}
    for ep_id, kinds, created_at in s.execute(select(E.id, E.events, E.created_at)).all():
        if events.NURTURE_DUE not in (kinds or ()):
            continue
        sent = exists().where(
            OUT.endpoint_id == ep_id, OUT.lead_id == LEAD.id, OUT.type == IS_NURTURE_DUE,
            OUT.origin == decision_id,
        )  # fmt: skip
        q = (
            select(LEAD.id)
            .where(
                LEAD.status == "nurture",
                decision_id.is_not(None),
                until <= today,
                until >= _day(_utc(created_at) or now, tz).isoformat(),
                ~sent,
            )  # fmt: skip
            .order_by(until, LEAD.id)
            .limit(limit)
        )
        for lead_id in s.execute(q).scalars():
            found.setdefault(lead_id, set()).add(ep_id)
    return {k: frozenset(v) for k, v in found.items()}


# ---------------------------------------------------------------------- pruning

PRUNE_BATCH = 5000  # rows deleted a transaction (SQLite's one write lock is held that long)


def prune_delivered(
    db: Database, before: datetime, *, batches: int | None = None
) -> tuple[int, bool]:
    """Delete delivered events delivered before `before`, PRUNE_BATCH at a time, each batch
    its own short transaction; at most `batches` batches (None: until none is left).
    Returns (rows deleted, whether some may be left).

    Never deleted: an event not delivered (pending, retrying, or waiting for redeliver);
    each endpoint's newest event (its sequence goes on from it: the next event's number is
    the highest kept plus one); a lead.nurture_due whose lead is still nurtured under the
    decision it came from (its row is what says it was sent: without it the periodic
    check would send it again)."""
    newer = aliased(OUT)
    newest = (
        select(func.max(newer.seq)).where(newer.endpoint_id == OUT.endpoint_id).scalar_subquery()
    )
    still_nurtured = exists().where(
        LEAD.id == OUT.lead_id, LEAD.status == "nurture",
        LEAD.decision["id"].as_string() == OUT.origin,
    )  # fmt: skip
    doomed = (
        select(OUT.id)
        .where(
            OUT.state == "delivered",
            OUT.delivered_at < before,
            OUT.seq < newest,
            or_(OUT.type != IS_NURTURE_DUE, ~still_nurtured),
        )
        .limit(PRUNE_BATCH)
    )
    total, done = 0, 0
    while batches is None or done < batches:
        with db.bookkeeping() as s:
            ids = list(s.execute(doomed).scalars())
            if ids:
                s.execute(delete(OUT).where(OUT.id.in_(ids)))
        total += len(ids)
        done += 1
        if len(ids) < PRUNE_BATCH:
            return total, False
    return total, True
