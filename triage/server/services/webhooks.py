"""Webhook endpoints: add (the signing secret shown once), list, remove, what was delivered
to one, and redelivery. The events themselves are written by the changes that cause
them (triage.server.webhooks.events) and delivered by every server instance
(triage.server.webhooks.delivery)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from triage.server.db import utcnow
from triage.server.models_webhooks import IS_PENDING, WebhookEndpoint, WebhookOutbox
from triage.server.services.common import ServiceError, _utc
from triage.server.webhooks import events, signing
from triage.server.webhooks.store import prune_delivered, signing_secrets
from triage.server.webhooks.urls import url_problem

DELIVERIES_SHOWN = 20


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """What may be shown about an endpoint: never its secret."""

    id: int
    url: str
    events: tuple[str, ...]
    created_at: datetime
    state: str  # active | failing
    failing_since: datetime | None
    retry_at: datetime | None
    pending: int
    delivered: int
    last_delivered_at: datetime | None
    previous_secret_until: datetime | None = None  # a rotation's overlap, while it lasts


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    seq: int
    event_id: str
    type: str
    created_at: datetime
    state: str  # pending | delivered
    attempts: int
    last_attempt_at: datetime | None
    last_result: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint as the sender needs it (for `webhook test`): its URL and secrets (the
    current one, and the previous one while a rotation overlaps)."""

    id: int
    url: str
    secrets: tuple[str, ...]


MAX_OVERLAP = timedelta(days=30)


def check_events(names: Sequence[str] | None) -> tuple[str, ...]:
    if not names:
        return events.EVENT_TYPES
    unknown = [n for n in names if n not in events.EVENT_TYPES]
    if unknown:
        raise ServiceError(
            400, "unknown_event",
            f"unknown event(s): {', '.join(unknown)}; known: {', '.join(events.EVENT_TYPES)}",
        )  # fmt: skip
    return tuple(dict.fromkeys(names))


class WebhooksMixin:
    """The endpoints marketing's systems receive events at."""

    def add_webhook(self, url: str, names: Sequence[str] | None = None) -> tuple[EndpointInfo, str]:
        """A new endpoint and its signing secret (shown once; kept to sign with)."""
        problem = url_problem(url)
        if problem is not None:
            raise ServiceError(400, "bad_url", f"{url}: {problem}")
        kinds = check_events(names)
        secret = signing.new_secret()
        with self.db.bookkeeping() as s:
            ep = WebhookEndpoint(url=url, events=list(kinds), secret=secret, created_at=utcnow())
            s.add(ep)
            s.flush()
            assert ep.id is not None
            endpoint_id = ep.id
        return self.webhook_info(endpoint_id), secret

    def webhooks(self) -> list[EndpointInfo]:
        with self.db.read() as s:
            ids = s.execute(select(WebhookEndpoint.id).order_by(WebhookEndpoint.id)).scalars()
            return [_info(s, i) for i in list(ids)]

    def webhook_info(self, endpoint_id: int) -> EndpointInfo:
        with self.db.read() as s:
            return _info(s, endpoint_id)

    def webhook_target(self, endpoint_id: int) -> Target:
        with self.db.read() as s:
            ep = _endpoint(s, endpoint_id)
            assert ep.id is not None
            return Target(ep.id, ep.url, _secrets(ep, utcnow()))

    def test_webhook(self, endpoint_id: int, timeout: float = 10.0) -> tuple[Target, str]:
        """Send a signed webhook.test event now (outside the outbox); (the endpoint, what
        the receiver answered). ServiceError 502 when it did not take it."""
        from triage.server.webhooks.delivery import send_test

        target = self.webhook_target(endpoint_id)
        here = self.identity
        try:
            answer = send_test(target.url, target.secrets, here.server_id,
                               self.current_epoch(), timeout=timeout)  # fmt: skip
        except RuntimeError as exc:
            raise ServiceError(
                502, "test_failed",
                f"webhook {target.id} ({target.url}) did not take the test event: {exc}",
            ) from None  # fmt: skip
        return target, answer

    def rotate_webhook(
        self, endpoint_id: int, overlap: timedelta
    ) -> tuple[EndpointInfo, str, datetime | None]:
        """A new signing secret for the endpoint (shown once); for `overlap` each delivery
        is signed with the new and the current secret both, so the receiver can switch
        without refusing an event. Returns (the endpoint, the new secret, the end of the
        overlap or None). Rotating again within an overlap drops the oldest secret."""
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise ServiceError(
                400, "bad_overlap", "the overlap must be between 0 and 30 days (e.g. 24h)"
            )
        secret = signing.new_secret()
        now = utcnow()
        until = now + overlap if overlap else None
        with self.db.bookkeeping() as s:
            ep = _endpoint(s, endpoint_id)
            ep.previous_secret = ep.secret if until else None
            ep.previous_until = until
            ep.secret = secret
        return self.webhook_info(endpoint_id), secret, until

    def remove_webhook(self, endpoint_id: int) -> tuple[EndpointInfo, int]:
        """Remove an endpoint and its outbox; (what it was, events not yet delivered).
        A write like a push's, so no push in flight still writes events for it."""
        info = self.webhook_info(endpoint_id)
        with self.db.write() as s:
            s.execute(delete(WebhookOutbox).where(WebhookOutbox.endpoint_id == endpoint_id))
            s.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
        return info, info.pending

    def webhook_deliveries(
        self, endpoint_id: int, limit: int = DELIVERIES_SHOWN
    ) -> tuple[EndpointInfo, list[DeliveryInfo]]:
        """The endpoint and its latest events (newest first), with how each delivery went."""
        o = WebhookOutbox
        with self.db.read() as s:
            info = _info(s, endpoint_id)
            rows = s.execute(
                select(o.seq, o.event_id, o.type, o.created_at, o.state, o.attempts,
                       o.last_attempt_at, o.last_result, o.delivered_at)
                .where(o.endpoint_id == endpoint_id)
                .order_by(o.seq.desc())
                .limit(limit)
            ).all()  # fmt: skip
        return info, [
            DeliveryInfo(r.seq, r.event_id, r.type, _utc(r.created_at) or r.created_at, r.state,
                         r.attempts, _utc(r.last_attempt_at), r.last_result,
                         _utc(r.delivered_at))
            for r in rows
        ]  # fmt: skip

    def redeliver(self, event_id: str, endpoint_id: int | None = None) -> list[tuple[int, int]]:
        """Send an event again, to every endpoint that has it (or one): it is pending again,
        its endpoint active again, and the endpoint's waiting events follow it in order
        with a fresh retry period. Returns [(endpoint id, its sequence number)]."""
        o, e = WebhookOutbox, WebhookEndpoint
        with self.db.bookkeeping() as s:
            q = select(o.id, o.endpoint_id, o.seq).where(o.event_id == event_id)
            if endpoint_id is not None:
                q = q.where(o.endpoint_id == endpoint_id)
            found = s.execute(q.order_by(o.endpoint_id)).all()
            if not found:
                where = f" at endpoint {endpoint_id}" if endpoint_id is not None else ""
                raise ServiceError(404, "unknown_event", f"no event {event_id}{where}")
            eps = sorted({r.endpoint_id for r in found})
            s.execute(
                update(o)
                .where(o.id.in_([r.id for r in found]))
                .values(state="pending", delivered_at=None, delivered_by=None)
            )
            s.execute(
                update(o)
                .where(o.endpoint_id.in_(eps), o.state == IS_PENDING)
                .values(attempts=0, first_failed_at=None)
            )
            s.execute(
                update(e)
                .where(e.id.in_(eps))
                .values(state="active", failing_since=None, retry_at=None)
            )
        return [(r.endpoint_id, r.seq) for r in found]

    def prune_webhook_events(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete events delivered more than `older_than` ago (never one not delivered;
        see prune_delivered for the few kept longer); how many went."""
        if older_than <= timedelta(0):
            raise ServiceError(400, "bad_retention", "the retention must be longer than 0")
        count, _ = prune_delivered(self.db, (now or utcnow()) - older_than)
        return count


def _endpoint(s: Any, endpoint_id: int) -> WebhookEndpoint:
    ep = s.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        raise ServiceError(404, "unknown_webhook", f"no webhook {endpoint_id} (see `webhook list`)")
    return ep


def _info(s: Any, endpoint_id: int) -> EndpointInfo:
    ep = _endpoint(s, endpoint_id)
    o = WebhookOutbox
    counts = dict(
        s.execute(
            select(o.state, func.count()).where(o.endpoint_id == endpoint_id).group_by(o.state)
        ).all()
    )
    last = s.execute(
        select(func.max(o.delivered_at)).where(o.endpoint_id == endpoint_id)
    ).scalar_one()
    assert ep.id is not None
    overlap = _utc(ep.previous_until) if len(_secrets(ep, utcnow())) > 1 else None
    return EndpointInfo(
        ep.id, ep.url, tuple(ep.events), _utc(ep.created_at) or ep.created_at, ep.state,
        _utc(ep.failing_since), _utc(ep.retry_at), counts.get("pending", 0),
        counts.get("delivered", 0), _utc(last), overlap,
    )  # fmt: skip


def _secrets(ep: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    return signing_secrets(ep.secret, ep.previous_secret, ep.previous_until, now)
