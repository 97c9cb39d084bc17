"""`triage demo`'s server delivers webhooks, as `triage server run` does: a webhook added in
its workspace's API gets the events, signed, at a real receiver process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.server.test_webhook_cli import _readme_snippet
from tests.support.factories import lead_row
from tests.support.receiver import Receiver
from triage import demo
from triage.server.service import Backend


def test_the_demo_server_delivers_webhooks(tmp_path: Path) -> None:
    backend = Backend.open(f"sqlite:///{tmp_path / 'server.db'}")
    _, mo, _ = backend.add_user("mo@example.com", None, "marketing")
    backend.add_user("dana@example.com", None, "rep")
    server = demo.start_server(backend)
    try:
        with Receiver(tmp_path / "got.jsonl") as receiver:
            auth = {"Authorization": f"Bearer {mo}"}
            added = httpx.post(server.url + "/v1/webhooks", json={"url": receiver.url},
                               headers=auth)  # fmt: skip
            assert added.status_code == 201
            secret = added.json()["secret"]
            rows = [lead_row(n, owner="dana@example.com") for n in (1, 2)]
            assert httpx.post(
                server.url + "/v1/leads", json={"leads": rows}, headers=auth
            ).is_success
            deadline = time.monotonic() + 10
            while len(receiver.records()) < 2:
                assert time.monotonic() < deadline, "the demo's server delivered nothing"
                time.sleep(0.05)
            ok = _readme_snippet()
            for r in receiver.records():
                assert json.loads(r["body"])["type"] == "lead.assigned"
                assert ok(secret, r["headers"]["triage-signature"], r["body"].encode())
    finally:
        server.stop()
        backend.close()
