"""`triage server run`'s access log (issue 13): one JSON line a request on stderr, with a
request id (a proxy's X-Request-ID when it is a plain token, else a new one, sent back in
X-Request-ID); the route template and the path without its query; never a token or a
query. And /metrics' wait for the write lock. A real server process on loopback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from triage.server.service import Backend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, str, Path]:
    port = _free_port()
    log = tmp_path / f"server-{uuid.uuid4().hex[:6]}.log"
    argv = [sys.executable, "-m", "triage", "server", "run", "--db",
            f"sqlite:///{tmp_path}/server.db", "--port", str(port), *extra]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(log.read_text())


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def _lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.slow  # a server process each
def test_one_json_line_a_request_with_its_id_and_never_a_token_or_query(tmp_path) -> None:
    backend = Backend.open(f"sqlite:///{tmp_path}/server.db")
    _, token, _ = backend.add_user("ann@example.com", None, "rep")
    backend.close()
    proc, url, log = _serve(tmp_path)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        given = httpx.get(url + "/v1/me", headers={**auth, "X-Request-ID": "proxy-42.a"})
        assert given.status_code == 200 and given.headers["x-request-id"] == "proxy-42.a"
        hostile = httpx.get(
            url + "/v1/reports/leads",
            params={"q": "Jane Secretname"},
            headers={**auth, "X-Request-ID": 'x" \x1b[31m'},
        )
        made = hostile.headers["x-request-id"]
        assert made != 'x" \x1b[31m' and made.isalnum()
        wrong = httpx.get(url + "/v1/me", headers={"Authorization": "Bearer tok_wrong_one_123"})
        assert wrong.status_code == 401
        missing = httpx.get(url + f"/nowhere/{token}")
        assert missing.status_code == 404
    finally:
        _stop(proc)
    text = log.read_text()
    assert token not in text and "tok_wrong_one_123" not in text
    assert "Secretname" not in text and "\x1b" not in text
    lines = _lines(log)
    by_id = {line["request_id"]: line for line in lines}
    me = by_id["proxy-42.a"]
    assert (me["method"], me["route"], me["path"], me["status"]) == ("GET", "/v1/me", "/v1/me", 200)
    assert me["ms"] >= 0 and me["client"] == "127.0.0.1"
    search = by_id[made]
    assert search["route"] == "/v1/reports/leads" and search["path"] == "/v1/reports/leads"
    assert search["status"] == 403  # a rep may not read marketing's reports
    assert any(line["status"] == 401 and line["path"] == "/v1/me" for line in lines)
    # a path that carries a secret is logged by its route template only
    unmatched = [line for line in lines if line["status"] == 404]
    assert [(x["route"], x["path"]) for x in unmatched] == [("<unmatched>", None)]
    assert len({line["request_id"] for line in lines}) == len(lines)


@pytest.mark.slow
def test_no_access_log_when_turned_off(tmp_path) -> None:
    proc, url, log = _serve(tmp_path, "--no-access-log")
    try:
        assert httpx.get(url + "/v1/health").status_code == 200
    finally:
        _stop(proc)
    assert _lines(log) == []


def test_metrics_show_the_wait_for_the_write_lock(live) -> None:
    """On both engines: each write that takes the change counter is timed."""
    rows = [{"external_id": f"L-{i}", "name": "N", "email": f"n{i}@x.example"} for i in range(3)]
    for _ in range(2):
        assert live.mo.post("/v1/leads", json={"leads": rows}).is_success
    text = live.anon.get("/metrics").text
    counts = {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("triage_db_write_lock_wait_seconds")
    }
    assert counts["triage_db_write_lock_wait_seconds_count"] >= 2
    assert counts["triage_db_write_lock_wait_seconds_sum"] >= 0
