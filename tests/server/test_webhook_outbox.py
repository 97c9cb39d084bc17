"""Webhook events are written to the outbox in the transaction of their cause: a decision,
an undo, an assignment (import, assign, assign --force), each with an id derived from
the cause, numbered per endpoint without gaps; nothing when the cause is not written
(a dry run, a rolled-back transaction); a decision sent again after a restore keeps its
event id."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.backend import push_as
from tests.support.factories import lead_row
from triage.server import backups
from triage.server.models_webhooks import WebhookOutbox
from triage.server.service import Backend, ServiceError
from triage.server.webhooks.events import Outbox, event_id
from triage.server.webhooks.store import DeliveryStore

AT = "2026-11-22T10:00:00Z"


@pytest.fixture
def backend(db_url: str):
    b = Backend.open(db_url)
    b.add_user("ann@example.com", None, "rep")
    b.add_user("bob@example.com", None, "rep")
    yield b
    b.close()


def _outbox(b: Backend, endpoint_id: int | None = None) -> list[WebhookOutbox]:
    with b.db.read() as s:
        q = select(WebhookOutbox).order_by(WebhookOutbox.endpoint_id, WebhookOutbox.seq)
        if endpoint_id is not None:
            q = q.where(WebhookOutbox.endpoint_id == endpoint_id)
        return list(s.execute(q).scalars())


def _decide(seq: int, lead_id: str, **extra) -> dict:
    return {"seq": seq, "lead_id": lead_id, "type": "decide", "outcome": "reject",
            "reason": "no_budget", "note": "CFO says no", "at": AT, **extra}  # fmt: skip


def test_each_cause_writes_its_event_numbered_per_endpoint(backend: Backend) -> None:
    every, _ = backend.add_webhook("https://crm.example.com/hooks/triage")
    decided_only, _ = backend.add_webhook("http://127.0.0.1:9/h", ["lead.decided"])
    backend.upsert_leads([lead_row(1), lead_row(2)])
    one, two = backend.lead("ext-1")["id"], backend.lead("ext-2")["id"]
    ann = str(uuid.uuid4())
    assert [r["status"] for r in push_as(backend, "ann@example.com", ann, [
        _decide(1, one), _decide(2, two, outcome="nurture", reason="timing_later",
                                 nurture_until="2027-03-01"),
        {"seq": 3, "lead_id": one, "type": "reopen", "at": AT},
        {"seq": 4, "lead_id": one, "type": "bant", "bant": {"budget": "no"}, "at": AT},
    ])] == ["applied"] * 4  # fmt: skip
    backend.assign("ext-2", "bob@example.com", force=True, by="mo@example.com")

    rows = _outbox(backend, every.id)
    sent = [json.loads(p.data) for p in DeliveryStore(backend.db, "test", 10).pending(every.id, 20)]
    assert [r.type for r in rows] == [
        "lead.assigned", "lead.assigned", "lead.decided", "lead.decided", "lead.reopened",
        "lead.reopened", "lead.assigned",
    ]  # fmt: skip
    assert [r.seq for r in rows] == list(range(1, 8))  # no gaps, in the order of the causes
    decided = sent[2]
    assert decided == {
        "lead_id": one, "external_id": "ext-1", "campaign": "campaign-1", "source": "tradeshow",
        "outcome": "reject", "status": "rejected", "previous_status": "open",
        "reason": "no_budget", "reason_label": "No budget", "note": "CFO says no",
        "nurture_until": None, "rep": "ann@example.com", "at": decided["at"],
        "decision_id": f"{ann}:1",
    }  # fmt: skip
    assert rows[2].event_id == event_id("lead.decided", f"{ann}:1", one)
    undo = sent[4]
    assert (undo["cause"], undo["previous_status"], undo["decision_id"]) == (
        "undo",
        "rejected",
        f"{ann}:1",
    )
    forced = sent[5]
    assert (forced["cause"], forced["by"], forced["previous_status"], forced["rep"]) == (
        "reassigned",
        "mo@example.com",
        "nurture",
        "ann@example.com",
    )
    moved = sent[6]
    assert (moved["owner"], moved["previous_owner"]) == ("bob@example.com", "ann@example.com")
    # the other endpoint: its own sequence, its events only, the same ids
    mine = _outbox(backend, decided_only.id)
    assert [(r.seq, r.type, r.event_id) for r in mine] == [
        (1, "lead.decided", rows[2].event_id), (2, "lead.decided", rows[3].event_id)
    ]  # fmt: skip


def test_no_event_without_its_cause(backend: Backend) -> None:
    backend.upsert_leads([lead_row(1)])  # no endpoint yet: nothing is kept for later
    assert _outbox(backend) == []
    backend.add_webhook("https://crm.example.com/hooks/triage")
    backend.upsert_leads([lead_row(2), lead_row(1, owner="bob@example.com")], dry_run=True)
    assert _outbox(backend) == []  # a dry run writes no event
    with pytest.raises(RuntimeError), backend.db.write() as s:
        lead = backend._find_lead(s, "ext-1")
        Outbox.of(s).assigned(lead, "bob@example.com", None, lead.updated_at)
        raise RuntimeError("the cause fails: its transaction rolls back")
    assert _outbox(backend) == []
    backend.assign("ext-1", "ann@example.com")  # no change of owner: no event
    assert _outbox(backend) == []
    backend.assign("ext-1", "bob@example.com")
    assert [r.type for r in _outbox(backend)] == ["lead.assigned"]


def test_bad_endpoints_are_refused(backend: Backend) -> None:
    for url in ("http://crm.example.com/hook", "ftp://x.example/", "not a url", "https://"):
        with pytest.raises(ServiceError) as err:
            backend.add_webhook(url)
        assert err.value.code == "bad_url"
    with pytest.raises(ServiceError, match="unknown event"):
        backend.add_webhook("https://crm.example.com/h", ["lead.rejected"])
    for url in ("http://localhost:8080/h", "http://127.0.0.2/h", "http://[::1]:9/h"):
        backend.add_webhook(url)
    assert backend.webhooks()[0].events == (
        "lead.decided",
        "lead.reopened",
        "lead.assigned",
        "lead.nurture_due",
    )


def test_a_decision_sent_again_after_a_restore_keeps_its_event_id(
    sqlite_url: str, tmp_path: Path
) -> None:
    b = Backend.open(sqlite_url)
    try:
        b.add_user("ann@example.com", None, "rep")
        b.add_webhook("https://crm.example.com/hooks/triage", ["lead.decided"])
        b.upsert_leads([lead_row(1)])
        lead_id = b.lead("ext-1")["id"]
        backups.backup(b.db, tmp_path / "before.db")
        ann = str(uuid.uuid4())
        push_as(b, "ann@example.com", ann, [_decide(1, lead_id)])
        (first,) = _outbox(b)
        backups.restore(b.db, tmp_path / "before.db")
        assert _outbox(b) == []  # the restore took the event with its decision
        # the client heals: the same decision, numbered anew, carrying its first identity
        again = str(uuid.uuid4())
        push_as(b, "ann@example.com", again, [_decide(1, lead_id, origin={"client_id": ann,
                                                                          "seq": 1})])  # fmt: skip
        (second,) = _outbox(b)
        assert second.event_id == first.event_id
        assert second.epoch > first.epoch  # the receiver can tell the history went back
        assert second.data == first.data
    finally:
        b.close()
