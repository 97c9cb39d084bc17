"""The delivery task against a real receiver process, on an injected clock: a day of
retries in about a second. A dead endpoint is retried with exponential backoff and
jitter, its later events waiting behind its oldest (order is kept), for 24 hours; then it
is failing and stays so until `redeliver`, which sends everything in order. A nurtured
lead's re-entry date brings one lead.nurture_due."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.backend import push_as
from tests.support.factories import lead_row
from tests.support.receiver import Receiver
from triage.server.models_webhooks import WebhookEndpoint, WebhookOutbox
from triage.server.service import Backend
from triage.server.webhooks import signing
from triage.server.webhooks.delivery import Dispatcher, Settings

DAY = 24 * 3600.0


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def backend(sqlite_url: str):
    b = Backend.open(sqlite_url)
    b.add_user("ann@example.com", None, "rep")
    yield b
    b.close()


def _rows(b: Backend) -> list[WebhookOutbox]:
    with b.db.read() as s:
        return list(s.execute(select(WebhookOutbox).order_by(WebhookOutbox.seq)).scalars())


def _endpoint(b: Backend, endpoint_id: int) -> WebhookEndpoint:
    with b.db.read() as s:
        ep = s.get(WebhookEndpoint, endpoint_id)
        assert ep is not None
        return ep


def _aware(dt: datetime | None) -> datetime:
    assert dt is not None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


async def _round(d: Dispatcher) -> None:
    await d.tick()
    await d.idle()


def test_a_dead_endpoint_is_retried_for_a_day_then_waits_for_redeliver(
    backend: Backend, tmp_path: Path
) -> None:
    receiver = Receiver(tmp_path / "got.jsonl")  # not started: the endpoint is down
    ep, secret = backend.add_webhook(receiver.url, ["lead.assigned"])
    backend.upsert_leads([lead_row(1), lead_row(2), lead_row(3)])
    clock = Clock(datetime.now(timezone.utc))
    settings = Settings(timeout=2, poll=0, backoff=1, backoff_cap=3600, retry_for=DAY)
    d = Dispatcher(backend.db, settings, clock=clock, rng=random.Random(12))
    attempts: list[tuple[datetime, datetime | None]] = []  # (tried at, retry at)

    async def days_of_retries() -> None:
        async with d.session():
            while _endpoint(backend, ep.id).state == "active":
                await _round(d)
                head = _rows(backend)[0]
                attempts.append((_aware(head.last_attempt_at), _endpoint(backend, ep.id).retry_at))
                assert head.attempts == len(attempts)
                if attempts[-1][1] is not None:
                    clock.now = _aware(attempts[-1][1])
                assert len(attempts) < 100
            clock.now += timedelta(days=1)
            receiver.start()  # back up, but the endpoint is failing: nothing is sent
            await _round(d)

    asyncio.run(days_of_retries())
    first = attempts[0][0]
    for n, (tried, retry_at) in enumerate(attempts[:-1], start=1):
        assert tried - first < timedelta(seconds=DAY)
        delay = (_aware(retry_at) - tried).total_seconds()
        full = min(3600.0, 2.0 ** (n - 1))
        assert 0.5 * full <= delay <= full, (n, delay)
    assert attempts[-1][0] - first >= timedelta(seconds=DAY)  # the last try: then failing
    assert 30 <= len(attempts) <= 60, len(attempts)
    failing = _endpoint(backend, ep.id)
    assert failing.retry_at is None and _aware(failing.failing_since) == attempts[-1][0]
    rows = _rows(backend)
    assert [r.attempts for r in rows] == [len(attempts), 0, 0]  # the others wait behind it
    assert receiver.records() == []
    try:
        assert backend.redeliver(rows[0].event_id) == [(ep.id, 1)]
        asyncio.run(_delivered(backend, receiver, clock))
    finally:
        receiver.stop()
    got = receiver.records()
    assert [json.loads(r["body"])["sequence"] for r in got] == [1, 2, 3]
    assert [r["headers"]["triage-event-id"] for r in got] == [r.event_id for r in rows]
    now = datetime.now(timezone.utc).timestamp()
    for r in got:
        header = r["headers"]["triage-signature"]
        assert signing.verify(secret, header, r["body"].encode(), now)
        assert not signing.verify(secret + "x", header, r["body"].encode(), now)
        assert not signing.verify(secret, header, r["body"].encode(), now + 301)  # replayed
    assert {r.state for r in _rows(backend)} == {"delivered"}
    assert backend.webhook_info(ep.id).state == "active"


async def _delivered(backend: Backend, receiver: Receiver, clock: Clock) -> None:
    d = Dispatcher(backend.db, Settings(timeout=2, poll=0), clock=clock)
    async with d.session():
        await _round(d)


def _push(b: Backend, client_id: str, mutations: list[dict]) -> None:
    assert {r["status"] for r in push_as(b, "ann@example.com", client_id, mutations)} == {"applied"}


def test_a_nurtured_lead_comes_due_once_per_decision(backend: Backend, tmp_path: Path) -> None:
    backend.upsert_leads([lead_row(1), lead_row(2)])
    one, two = backend.lead("ext-1")["id"], backend.lead("ext-2")["id"]
    ann = str(uuid.uuid4())
    nurture = {"type": "decide", "outcome": "nurture", "reason": "timing_later",
               "nurture_until": "2027-03-01", "at": "2026-11-22T10:00:00Z"}  # fmt: skip
    _push(backend, ann, [{"seq": 1, "lead_id": one, **nurture},
                         {"seq": 2, "lead_id": two, **nurture, "nurture_until": "2027-04-01"}])  # fmt: skip
    clock = Clock(datetime(2027, 2, 28, 23, 0, tzinfo=timezone.utc))
    d = Dispatcher(backend.db, Settings(timeout=2, poll=0, nurture_every=0), clock=clock)
    with Receiver(tmp_path / "got.jsonl") as receiver:
        ep, _ = backend.add_webhook(receiver.url, ["lead.nurture_due"])

        async def days() -> None:
            async with d.session():
                await _round(d)  # the day before: nothing
                assert _rows(backend) == []
                for hours in (1, 1, 24, 24 * 40):  # due on the 1st; once, however often checked
                    clock.now += timedelta(hours=hours)
                    await _round(d)
                    await _round(d)
                # a new nurture decision for the first lead: a new cycle, due again
                _push(backend, ann, [{"seq": 3, "lead_id": one, "type": "reopen",
                                      "at": "2026-11-23T10:00:00Z"},
                                     {"seq": 4, "lead_id": one, **nurture,
                                      "nurture_until": "2027-05-01"}])  # fmt: skip
                clock.now = datetime(2027, 5, 1, 8, tzinfo=timezone.utc)
                await _round(d)
                await _round(d)

        asyncio.run(days())
        got = [json.loads(r["body"]) for r in receiver.records()]
    assert [(g["type"], g["data"]["lead_id"], g["data"]["nurture_until"]) for g in got] == [
        ("lead.nurture_due", one, "2027-03-01"),
        ("lead.nurture_due", two, "2027-04-01"),
        ("lead.nurture_due", one, "2027-05-01"),
    ]
    assert [g["sequence"] for g in got] == [1, 2, 3]
    assert got[0]["data"]["reason_label"] and got[0]["data"]["rep"] == "ann@example.com"
    assert len({g["id"] for g in got}) == 3
    assert ep.id == 1
