"""Delivered webhook events are pruned after a retention (the delivery task, hourly, and
`triage server webhook prune`), on both engines; what is not delivered is never pruned,
nor each endpoint's newest event (the sequence goes on from it), nor a lead.nurture_due
whose lead is still nurtured under its decision (the row is what says it was sent)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from tests.support.backend import push_as
from tests.support.cli import run_cli
from tests.support.factories import lead_row
from tests.support.receiver import Receiver
from triage.server.models_webhooks import WebhookOutbox
from triage.server.service import Backend
from triage.server.webhooks.delivery import Dispatcher, Settings

DEAD = "http://127.0.0.1:9/hooks"  # nothing listens on the discard port


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _rows(b: Backend) -> list[tuple[int, int, str, str]]:
    o = WebhookOutbox
    with b.db.read() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(o.endpoint_id, o.seq, o.type, o.state).order_by(o.endpoint_id, o.seq)
        ).all()]  # fmt: skip


async def _round(d: Dispatcher) -> None:
    await d.tick()
    await d.idle()


def test_delivered_events_are_pruned_after_the_retention(db_url: str, tmp_path: Path) -> None:
    b = Backend.open(db_url)
    try:
        b.add_user("ann@example.com", None, "rep")
        start = datetime.now(timezone.utc)
        clock = Clock(start)
        settings = Settings(timeout=2, poll=0, nurture_every=0, prune_every=3600,
                            keep_delivered=30 * 86400, retry_for=10 * 86400)  # fmt: skip
        d = Dispatcher(b.db, settings, clock=clock)
        with Receiver(tmp_path / "got.jsonl") as receiver:
            live, _ = b.add_webhook(receiver.url)
            dead, _ = b.add_webhook(DEAD)
            b.upsert_leads([lead_row(n, owner="ann@example.com") for n in (1, 2, 3)])
            one = b.lead("ext-1")["id"]
            push_as(b, "ann@example.com", str(uuid.uuid4()), [
                {"seq": 1, "lead_id": one, "type": "decide", "outcome": "nurture",
                 "reason": "timing_later", "nurture_until": start.date().isoformat(),
                 "at": start.isoformat()}])  # fmt: skip

            async def days() -> None:
                async with d.session():
                    await _round(d)  # the nurture date is today: lead.nurture_due too
                    b.upsert_leads([lead_row(4, owner="ann@example.com")])
                    await _round(d)  # all delivered, and nothing pruned: all of it is new
                    assert d.pruned == 0
                    clock.now = start + timedelta(days=29)
                    d._next_prune = 0
                    await _round(d)  # 29 days on: nothing is old enough
                    assert d.pruned == 0
                    clock.now = start + timedelta(days=31)
                    d._next_prune = 0
                    await _round(d)

            asyncio.run(days())
        rows = _rows(b)
        # the live endpoint: 3 assigned, 1 decided, 1 nurture_due, 1 assigned delivered;
        # kept: the nurture_due of a lead still nurtured under that decision, and the
        # newest (numbering goes on from it)
        assert [(r[1], r[2], r[3]) for r in rows if r[0] == live.id] == [
            (5, "lead.nurture_due", "delivered"),
            (6, "lead.assigned", "delivered"),
        ]
        assert d.pruned == 4
        # the dead endpoint: nothing delivered, nothing pruned
        dead_rows = [r for r in rows if r[0] == dead.id]
        assert len(dead_rows) == 6 and {r[3] for r in dead_rows} == {"pending"}
        # numbering goes on after the newest kept
        b.upsert_leads([lead_row(5, owner="ann@example.com")])
        assert [r[1] for r in _rows(b) if r[0] == live.id] == [5, 6, 7]
    finally:
        b.close()


def test_the_prune_command(sqlite_url: str, tmp_path: Path) -> None:
    db = ("--db", sqlite_url)
    b = Backend.open(sqlite_url)
    try:
        b.add_user("ann@example.com", None, "rep")
        ep, _ = b.add_webhook(DEAD)
        b.upsert_leads([lead_row(n, owner="ann@example.com") for n in (1, 2, 3)])
        long_ago = datetime.now(timezone.utc) - timedelta(days=40)
        with b.db.bookkeeping() as s:  # two of them delivered 40 days ago, one 10 days ago
            for seq, at in ((1, long_ago), (2, long_ago), (3, long_ago + timedelta(days=30))):
                row = s.execute(select(WebhookOutbox).where(WebhookOutbox.seq == seq)).scalar_one()
                row.state, row.delivered_at = "delivered", at
    finally:
        b.close()
    bad = run_cli("server", "webhook", "prune", "--older-than", "0d", *db, check=False)
    assert bad.returncode == 2 and "not a lifetime" in bad.stderr
    bad = run_cli("server", "webhook", "prune", "--older-than", "soon", *db, check=False)
    assert bad.returncode == 2
    done = run_cli("server", "webhook", "prune", *db, check=True)  # default 30 days
    assert "pruned 2 event(s) delivered more than 30 day(s) ago" in done.stdout
    again = run_cli("server", "webhook", "prune", "--older-than", "1d", *db, check=True)
    # the third is the newest: kept, as the sequence goes on from it
    assert "pruned 0 event(s) delivered more than 1 day(s) ago" in again.stdout
    shown = run_cli("server", "webhook", "deliveries", str(ep.id), *db, check=True).stdout
    assert "0 pending, 1 delivered" in shown
