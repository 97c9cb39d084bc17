"""`GET /metrics` (issue 13): Prometheus's text format, requests by route template (never
the raw path), pushes, pulls, mutations by result, import rows, webhook backlog; served to
loopback only, or to the bearer of TRIAGE_METRICS_TOKEN, and never showing a token."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from tests.support.server import ServerProcess
from triage.server.metrics import allowed
from triage.server.service import Backend


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_sync_and_imports_are_counted_by_route_template(live) -> None:
    live.upsert([{"external_id": f"m-{i}", "name": f"N {i}", "email": f"n{i}@m.example",
                  "owner": "ann@example.com"} for i in range(3)])  # fmt: skip
    pulled = live.ann.get("/v1/sync/pull", params={"cursor": 0}).json()
    lead = pulled["leads"][0]
    cid = str(uuid.uuid4())
    mutation = {"seq": 1, "lead_id": lead["id"], "type": "decide", "outcome": "accept",
                "at": "2026-12-01T10:00:00Z", "base_version": lead["version"]}  # fmt: skip
    for _ in range(2):  # the second time: a duplicate
        assert live.ann.post(
            "/v1/sync/push", json={"client_id": cid, "mutations": [mutation]}
        ).is_success
    secret = "tok_" + "s" * 40  # a path that carries a secret must never become a label
    assert (
        live.mo.post(
            f"/v1/leads/{lead['id']}/assign", json={"owner": "bob@example.com"}
        ).status_code
        == 409
    )
    assert live.anon.get(f"/nowhere/{secret}").status_code == 404

    r = live.anon.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert secret not in text and live.ann.token not in text and live.mo.token not in text
    assert (
        _value(
            text, "triage_http_requests_total", method="GET", route="/v1/sync/pull", status="200"
        )
        == 1
    )
    assert (
        _value(
            text, "triage_http_requests_total", method="POST", route="/v1/sync/push", status="200"
        )
        == 2
    )
    assert _value(text, "triage_http_requests_total", method="POST",
                  route="/v1/leads/{lead_id}/assign", status="409") == 1  # fmt: skip
    assert (
        _value(text, "triage_http_requests_total", method="GET", route="<unmatched>", status="404")
        == 1
    )
    assert _value(text, "triage_http_request_duration_seconds_count", method="POST",
                  route="/v1/sync/push") == 2  # fmt: skip
    assert _value(text, "triage_sync_pushes_total") == 2
    assert _value(text, "triage_sync_pulls_total") == 1
    assert _value(text, "triage_sync_mutations_total", result="applied") == 1
    assert _value(text, "triage_sync_mutations_total", result="duplicate") == 1
    assert _value(text, "triage_sync_pulled_total", kind="lead") == 3
    assert _value(text, "triage_import_rows_total", outcome="created") == 3
    assert _value(text, "triage_webhook_backlog") == 0
    assert _value(text, "triage_sync_errors_total", route="/v1/sync/push") == 0


def test_the_webhook_backlog_is_read_from_the_database(live) -> None:
    live.backend.add_webhook("https://hooks.example.com/triage", ["lead.assigned"])
    live.upsert([{"external_id": "w-1", "name": "W", "email": "w@m.example",
                  "owner": "ann@example.com"}])  # fmt: skip
    text = live.anon.get("/metrics").text
    assert _value(text, "triage_webhook_backlog") == 1


def _request(client: str, headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": raw,
                    "client": (client, 40000), "query_string": b""})  # fmt: skip


def test_who_may_read_metrics() -> None:
    token = "m" * 32
    assert allowed(_request("127.0.0.1"), None) and allowed(_request("::1"), None)
    assert not allowed(_request("10.1.2.3"), None)  # another machine
    assert not allowed(_request("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}), None)  # a proxy
    assert not allowed(_request("10.1.2.3", {"Authorization": f"Bearer {token}"}), None)
    assert allowed(_request("10.1.2.3", {"Authorization": f"Bearer {token}"}), token)
    assert not allowed(_request("10.1.2.3", {"Authorization": "Bearer " + "x" * 32}), token)
    assert not allowed(_request("127.0.0.1", {"Authorization": "Bearer " + "x" * 32}), token)


@pytest.mark.slow  # a server process of its own
def test_a_real_server_with_a_metrics_token(sqlite_url: str) -> None:
    Backend.open(sqlite_url).close()
    token = "t" * 40
    with ServerProcess(sqlite_url, env={"TRIAGE_METRICS_TOKEN": token}) as server:
        assert httpx.get(server.url + "/v1/health").status_code == 200
        proxied = httpx.get(server.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403 and token not in proxied.text
        wrong = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer " + "u" * 40})
        assert wrong.status_code == 403
        right = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {token}",
                                                            "X-Forwarded-For": "203.0.113.9"})  # fmt: skip
        assert right.status_code == 200 and token not in right.text
        assert _value(right.text, "triage_http_requests_total", method="GET",
                      route="/v1/health", status="200") >= 1  # fmt: skip


@pytest.mark.slow  # a server process of its own
def test_a_short_metrics_token_is_refused_at_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    env = {**os.environ, "TRIAGE_METRICS_TOKEN": "short", "TRIAGE_HOME": str(tmp_path)}
    ran = subprocess.run([sys.executable, "-m", "triage", "server", "run", "--db", db, "--port", "0"],
                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode != 0 and "TRIAGE_METRICS_TOKEN" in ran.stderr
    assert "short" not in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "server.db").exists()  # refused before the database was made


@pytest.mark.parametrize("module", ["triage.cli", "triage.sync.engine", "triage.app"])
def test_the_reps_client_never_imports_prometheus(module: str) -> None:
    code = f"import sys, {module}; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
