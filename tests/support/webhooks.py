"""What the webhook tests and the benchmark share: a server database with a rep, leads and
endpoints; pushing decisions over HTTP; waiting for the outbox to drain; and the checks a
receiver's log must pass (every event at least once, the same bytes each time, valid
signatures, per-endpoint order)."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.factories import lead_row
from triage.server.models_webhooks import WebhookOutbox
from triage.server.service import Backend
from triage.server.webhooks import signing

REP = "ann@example.com"


@dataclass
class Setup:
    db_url: str
    token: str
    lead_ids: list[str]
    secrets: dict[int, str] = field(default_factory=dict)  # endpoint id -> secret
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int = 0

    def push(self, url: str, lead_ids: list[str], **kw: Any) -> float:
        """Reject these leads in one push to the server at `url`; the seconds it took."""
        muts = []
        for lead_id in lead_ids:
            self.seq += 1
            muts.append({"seq": self.seq, "lead_id": lead_id, "type": "decide",
                         "outcome": "reject", "reason": "no_budget", "note": "no money",
                         "at": "2026-11-22T10:00:00Z"})  # fmt: skip
        started = time.perf_counter()
        r = httpx.post(
            url + "/v1/sync/push",
            json={"client_id": self.client_id, "mutations": muts},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
            **kw,
        )
        took = time.perf_counter() - started
        assert r.status_code == 200, r.text
        assert {x["status"] for x in r.json()["results"]} == {"applied"}
        return took


def setup(db_url: str, leads: int, endpoints: list[tuple[str, list[str] | None]]) -> Setup:
    """A rep with `leads` open leads, and the endpoints (url, event types) added first."""
    b = Backend.open(db_url)
    try:
        _, token, _ = b.add_user(REP, None, "rep")
        secrets = {}
        for url, kinds in endpoints:
            info, secret = b.add_webhook(url, kinds)
            secrets[info.id] = secret
        rows = [lead_row(n, owner=REP) for n in range(1, leads + 1)]
        for i in range(0, len(rows), 5000):
            b.upsert_leads(rows[i : i + 5000])
        lead_ids = [b.lead(f"ext-{n}")["id"] for n in range(1, leads + 1)] if leads <= 500 else []
    finally:
        b.close()
    return Setup(db_url, token, lead_ids, secrets)


def outbox(db_url: str) -> dict[int, list[WebhookOutbox]]:
    """Each endpoint's outbox rows, in sequence order."""
    b = Backend.open(db_url)
    try:
        with b.db.read() as s:
            rows = s.execute(select(WebhookOutbox).order_by(WebhookOutbox.seq)).scalars()
            out: dict[int, list[WebhookOutbox]] = defaultdict(list)
            for r in rows:
                out[r.endpoint_id].append(r)
            return dict(out)
    finally:
        b.close()


def wait_delivered(db_url: str, timeout: float) -> None:
    """Until the outbox has no pending event (AssertionError after `timeout` seconds)."""
    b = Backend.open(db_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with b.db.read() as s:
                left = s.execute(
                    select(func.count())
                    .select_from(WebhookOutbox)
                    .where(WebhookOutbox.state == "pending")
                ).scalar_one()
            if not left:
                return
            assert time.monotonic() < deadline, f"{left} event(s) still pending"
            time.sleep(0.1)
    finally:
        b.close()


def check(records: list[dict[str, Any]], secret: str, expected: list[str]) -> dict[str, int]:
    """The receiver's log against the endpoint's outbox (`expected`: its event ids in
    sequence order): each event taken (answered 200) at least once; every copy of an
    event the same bytes; every signature valid at the time it came; the events in order
    (their first arrivals, and what was taken, by sequence; a retry never goes back
    before an event already taken, but for a run sent again after a crash). Returns how
    many times each event came."""
    bodies: dict[str, str] = {}
    came: dict[str, int] = defaultdict(int)
    first: list[int] = []
    for r in records:
        if r["body"] is None:  # reset before the body was read
            continue
        body = json.loads(r["body"])
        eid = r["headers"]["triage-event-id"]
        assert body["id"] == eid
        assert bodies.setdefault(eid, r["body"]) == r["body"], f"{eid}: another body"
        assert signing.verify(secret, r["headers"]["triage-signature"], r["body"].encode(), r["t"])
        if eid not in came:
            first.append(body["sequence"])
        came[eid] += 1
    taken = [json.loads(r["body"])["id"] for r in records if r["step"] == "ok"]
    assert set(taken) == set(expected), (set(expected) - set(taken), set(taken) - set(expected))
    assert first == sorted(first) and len(first) == len(expected)
    assert first == list(range(1, len(expected) + 1))
    return dict(came)
