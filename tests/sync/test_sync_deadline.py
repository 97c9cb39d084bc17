"""How long a sync may keep the rep waiting: a deadline for the whole round, a quick end
when nothing listens, and a word on stderr about what it waits for. Nothing is lost or
sent twice on the way: the outbox stays, each pulled page is saved whole or not at all.

Time is faked where it is the subject (a clock that the stalled requests and the back-off
sleeps advance); assertions count requests and check their order, never durations.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.backend import open_leads_by_rep
from tests.support.cli import run_cli
from tests.support.client import decisions_per_lead, device
from tests.support.factories import lead_row
from triage.store import Store
from triage.sync.client import ApiClient, Deadline
from triage.sync.engine import RetryPolicy, SyncEngine


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StallAfter(httpx.BaseTransport):
    """The real server for the first `ok` requests; then a stalled network: each request
    waits out its read timeout (on the fake clock) and times out."""

    def __init__(self, clock: FakeClock, ok: int):
        self.inner = httpx.HTTPTransport()
        self.clock = clock
        self.ok = ok
        self.log: list[tuple[str, float | None]] = []  # path, read timeout (stalled ones)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.ok > 0:
            self.ok -= 1
            self.log.append((request.url.path, None))
            response = self.inner.handle_request(request)
            response.read()
            return response
        read = request.extensions["timeout"]["read"]
        self.log.append((request.url.path, read))
        self.clock.advance(read)
        raise httpx.ReadTimeout("stalled", request=request)

    def close(self) -> None:
        self.inner.close()


def _sync_with_a_deadline(dev, transport: StallAfter, clock: FakeClock, waits: list[str]):
    with Store.open(dev.db_path) as store:
        deadline = Deadline(60, clock=clock)
        with ApiClient(dev.url, dev.token, transport=transport, deadline=deadline) as client:
            retry = RetryPolicy(sleep=clock.advance, rng=lambda: 1.0)
            engine = SyncEngine(store, client, batch=5, page=5, retry=retry, on_wait=waits.append)
            return engine.sync()


def test_a_network_that_stalls_mid_push_gives_up_at_the_deadline(live_sqlite, tmp_path):
    live_sqlite.upsert([lead_row(i) for i in range(12)])
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    dev.decide(ids, "reject", "no_need")

    clock, waits = FakeClock(), []
    stall = StallAfter(clock, ok=3)  # health, the probe pull and the first push of 5 go through
    report = _sync_with_a_deadline(dev, stall, clock, waits)

    assert not report.ok and report.timed_out and "60 s deadline" in report.error
    assert report.applied == 5 and report.pending == 7 and dev.pending() == 7
    # Each stalled request got only what was left of the 60 s; no back-off went past it.
    assert stall.log == [
        ("/v1/health", None),
        ("/v1/sync/pull", None),
        ("/v1/sync/push", None),
        ("/v1/sync/push", 30.0),  # the client's read timeout: 60 s were left
        ("/v1/sync/push", 29.0),  # 60 - 30 - a back-off of 1 s
    ]
    assert clock.now == 60.0
    assert len(waits) == 1 and waits[0].startswith(f"waiting for {dev.url}: timed out")
    assert waits[0].endswith("attempt 2 of 5 in 1.0 s")

    assert dev.sync().ok and dev.pending() == 0  # the network is back: each lands once
    assert decisions_per_lead(live_sqlite.backend) == Counter(dict.fromkeys(ids, 1))


def test_a_network_that_stalls_mid_pull_keeps_the_pages_it_saved(live_sqlite, tmp_path):
    live_sqlite.upsert([lead_row(i) for i in range(12)])
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    clock, waits = FakeClock(), []
    stall = StallAfter(clock, ok=4)  # /v1/health, /v1/me, the first page of 5, the policy
    report = _sync_with_a_deadline(dev, stall, clock, waits)

    assert not report.ok and report.timed_out and report.pulled == 5
    assert [p for p, _ in stall.log] == [
        "/v1/health", "/v1/me", "/v1/sync/pull", "/v1/policy", "/v1/sync/pull",
        "/v1/sync/pull",
    ]  # fmt: skip
    with Store.open(dev.db_path) as store:
        assert len(store.queue_ids(_everything(), "sla")) == 5  # the saved page, whole
        cursor = store.sync_state().cursor
    assert cursor > 0
    report = dev.sync()
    assert report.ok and report.pulled == 7  # on from the saved cursor
    assert dev.open_ids() == open_leads_by_rep(live_sqlite.backend)["ann@example.com"]


def _everything():
    from triage.domain import Filter

    return Filter()


def _logged_in(live, tmp_path: Path) -> Path:
    live.upsert([lead_row(i) for i in range(4)])
    home = tmp_path / "home"
    token = live.ann.token + "\n"
    run_cli("login", "--server", live.url, "--token", "-", home=home, stdin=token, check=True)
    run_cli("sync", home=home, check=True)
    rows = run_cli("queue", "--json", home=home, check=True).stdout
    run_cli("decide", "accept", rows.split('"id": "')[1].split('"')[0], home=home, check=True)
    return home


def test_a_refused_connection_is_tried_twice_then_reported(live_sqlite, tmp_path, monkeypatch):
    home = _logged_in(live_sqlite, tmp_path)
    live_sqlite.thread.stop()  # nothing listens on the port any more
    attempts: list[str] = []
    real = httpx.HTTPTransport.handle_request

    def counting(self, request):
        attempts.append(request.url.path)
        return real(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", counting)
    r = run_cli("sync", home=home)
    assert r.returncode == 1
    assert len(attempts) == 2, attempts
    assert "connection refused" in r.stderr and "1 change pending" in r.stderr
    assert f"waiting for {live_sqlite.url}: connection refused" in r.stderr
    assert "attempt 2 of 2 in 0.2 s" in r.stderr, r.stderr

    live_sqlite.thread.start()  # the same port again: the next sync sends it
    attempts.clear()
    assert run_cli("sync", home=home).returncode == 0


@pytest.fixture
def stalled_server():
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_sync_timeout_gives_up_on_a_server_that_never_answers(stalled_server, tmp_path):
    env = {"TRIAGE_SERVER_URL": stalled_server, "TRIAGE_TOKEN": "t" * 40}
    r = run_cli("sync", "--timeout", "0.5", home=tmp_path, env=env)
    assert r.returncode == 1
    assert "timed out" in r.stderr and "0.5 s deadline" in r.stderr
    assert "--timeout SECONDS" in r.stderr and "Traceback" not in r.stderr


def test_a_request_without_an_answer_says_what_it_waits_for(stalled_server, tmp_path):
    waits: list[str] = []
    with Store.open(tmp_path / "triage.db") as store:
        deadline = Deadline(2)  # the request waits this long (real time), the notice 0.05 s
        with ApiClient(stalled_server, "t" * 40, deadline=deadline) as client:
            engine = SyncEngine(
                store, client, retry=RetryPolicy(attempts=1), on_wait=waits.append,
                notice_after=0.05,
            )  # fmt: skip
            report = engine.sync()
    assert not report.ok and "timed out" in report.error
    assert waits == [f"waiting for {stalled_server}: no answer after 0.05 s"]


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_sync_refuses_a_timeout_that_is_not_a_positive_number(tmp_path, value):
    r = run_cli("sync", "--timeout", value, home=tmp_path)
    assert r.returncode == 2 and "--timeout" in r.stderr
