"""/v1/webhooks against a real `triage server run` process (which delivers) and a real
receiver process: marketing lists, adds (the secret in the answer, once), tests, reads
deliveries, redelivers, rotates and removes; a rep gets 403 everywhere; bad input is a
clear 4xx that changes nothing; the routes are in the OpenAPI document."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.server.test_webhook_cli import _readme_snippet
from tests.support.factories import lead_row
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess
from triage.server.service import Backend

pytestmark = pytest.mark.slow  # a server and a receiver process


def _wait(fn, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (got := fn()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return got


def test_the_webhooks_api(db_url: str, tmp_path: Path) -> None:
    b = Backend.open(db_url)
    try:
        _, mo, _ = b.add_user("mo@example.com", None, "marketing")
        _, ann, _ = b.add_user("ann@example.com", None, "rep")
    finally:
        b.close()
    server = ServerProcess(db_url, env={"TRIAGE_WEBHOOKS": "timeout=2,poll=0.1"}).start()
    try:
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {mo}"})
        rep = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ann}"})
        with Receiver(tmp_path / "got.jsonl") as receiver:
            for method, path in (("GET", ""), ("POST", ""), ("DELETE", "/1"),
                                 ("POST", "/1/test"), ("GET", "/1/deliveries"),
                                 ("POST", "/redeliver"), ("POST", "/1/rotate")):  # fmt: skip
                r = rep.request(method, "/v1/webhooks" + path, json={})
                assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path)
            assert httpx.get(server.url + "/v1/webhooks").status_code == 401

            bad = api.post("/v1/webhooks", json={"url": "http://crm.example.com/h"})
            assert bad.status_code == 400 and "https://" in bad.json()["detail"]
            bad = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["lead.won"]})
            assert bad.status_code == 400 and "unknown event(s): lead.won" in bad.json()["detail"]
            assert api.post("/v1/webhooks", json={"url": receiver.url, "x": 1}).status_code == 422
            assert api.get("/v1/webhooks").json() == {"webhooks": []}

            added = api.post(
                "/v1/webhooks", json={"url": receiver.url, "events": ["lead.assigned"]}
            )
            assert added.status_code == 201 and added.headers["cache-control"] == "no-store"
            secret, hook = added.json()["secret"], added.json()["webhook"]
            assert secret.startswith("whsec_") and hook["events"] == ["lead.assigned"]
            listed = api.get("/v1/webhooks")
            assert secret not in listed.text and listed.json()["webhooks"][0]["state"] == "active"

            tested = api.post(f"/v1/webhooks/{hook['id']}/test")
            assert tested.status_code == 200 and "200 OK" in tested.json()["answer"]
            assert api.post("/v1/webhooks/99/test").status_code == 404

            assert api.post(
                "/v1/leads", json={"leads": [lead_row(1, owner="ann@example.com")]}
            ).is_success
            got = _wait(lambda: [r for r in receiver.records()
                                 if json.loads(r["body"])["type"] == "lead.assigned"])  # fmt: skip
            readme_ok = _readme_snippet()
            assert readme_ok(secret, got[0]["headers"]["triage-signature"], got[0]["body"].encode())
            shown = _wait(lambda: (d := api.get(f"/v1/webhooks/{hook['id']}/deliveries").json())
                          ["webhook"]["delivered"] == 1 and d)  # fmt: skip
            (delivery,) = shown["deliveries"]
            assert delivery["state"] == "delivered" and delivery["sequence"] == 1
            assert api.get(f"/v1/webhooks/{hook['id']}/deliveries?limit=0").status_code == 422

            bad = api.post("/v1/webhooks/redeliver", json={"event_id": "evt_nope"})
            assert bad.status_code == 404 and "no event evt_nope" in bad.json()["detail"]
            again = api.post("/v1/webhooks/redeliver", json={"event_id": delivery["event_id"]})
            assert again.json() == {"redelivered": [{"webhook": hook["id"], "sequence": 1}]}
            _wait(lambda: len([r for r in receiver.records()
                               if r["headers"].get("triage-event-id") == delivery["event_id"]]) == 2)  # fmt: skip

            bad = api.post(f"/v1/webhooks/{hook['id']}/rotate", json={"overlap_hours": 24 * 31})
            assert bad.status_code == 422
            rotated = api.post(f"/v1/webhooks/{hook['id']}/rotate", json={"overlap_hours": 2})
            assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
            new = rotated.json()["secret"]
            assert new != secret and rotated.json()["webhook"]["previous_secret_until"]
            api.post(f"/v1/webhooks/{hook['id']}/test")
            last = receiver.records()[-1]
            for key in (new, secret):
                assert readme_ok(key, last["headers"]["triage-signature"], last["body"].encode())

            removed = api.delete(f"/v1/webhooks/{hook['id']}")
            assert removed.status_code == 200 and removed.json()["webhook"]["id"] == hook["id"]
            assert api.get("/v1/webhooks").json() == {"webhooks": []}
            assert api.delete(f"/v1/webhooks/{hook['id']}").status_code == 404

        paths = httpx.get(server.url + "/openapi.json").json()["paths"]
        for p in ("/v1/webhooks", "/v1/webhooks/{webhook_id}", "/v1/webhooks/{webhook_id}/test",
                  "/v1/webhooks/{webhook_id}/deliveries", "/v1/webhooks/redeliver",
                  "/v1/webhooks/{webhook_id}/rotate"):  # fmt: skip
            assert p in paths, p
    finally:
        server.stop()
