"""Webhooks end to end: `triage server run` processes delivering to receiver processes on
loopback that refuse, go down, answer 500, stall past the timeout, close the connection
mid-answer or reset it. At the end every event was delivered, each event id at least
once with the same bytes, signatures valid, order kept per endpoint; a misbehaving
endpoint never holds up another. A server killed with SIGKILL mid-delivery and started
again delivers the rest; two instances on one PostgreSQL share the work and never send
one event twice in one attempt."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.receiver import Receiver
from tests.support.server import ServerProcess
from tests.support.webhooks import check, outbox, setup, wait_delivered

pytestmark = pytest.mark.slow  # server and receiver processes

FAST = "timeout=1,backoff=0.05,backoff_cap=0.3,poll=0.05,lease=4"


def _ids(rows) -> list[str]:
    return [r.event_id for r in rows]


def test_every_event_arrives_whatever_the_receiver_does(db_url: str, tmp_path: Path) -> None:
    bad = Receiver(tmp_path / "bad.jsonl", stall=1.5)
    good = Receiver(tmp_path / "good.jsonl")
    world = setup(db_url, 24, [(bad.url, None), (good.url, ["lead.decided"])])
    bad.start("reset,refuse*2,500,close,stall,500")
    good.start()
    server = ServerProcess(db_url, env={"TRIAGE_WEBHOOKS": FAST}).start(60)
    try:
        world.push(server.url, world.lead_ids[:8])
        time.sleep(1.0)
        bad.stop()  # down for a while: refused connections
        took = world.push(server.url, world.lead_ids[8:16])
        assert took < 2.0, took  # the push does not wait for any endpoint
        deadline = time.monotonic() + 10
        while len({r["headers"]["triage-event-id"] for r in good.records()}) < 16:
            assert time.monotonic() < deadline, "the good endpoint was held up"
            time.sleep(0.05)
        assert bad.proc is None  # all that while the other endpoint was down
        time.sleep(1.0)
        bad.start("500,reset,close,stall")
        world.push(server.url, world.lead_ids[16:])
        wait_delivered(db_url, 60)
    finally:
        server.stop()
        bad.stop()
        good.stop()
    rows = outbox(db_url)
    assert [len(rows[1]), len(rows[2])] == [48, 24]  # 24 assigned + 24 decided; 24 decided
    came = check(bad.records(), world.secrets[1], _ids(rows[1]))
    assert max(came.values()) > 1  # the bad receiver really made it retry
    tried = [json.loads(r["body"])["sequence"] for r in bad.records() if r["body"]]
    assert tried == sorted(tried)  # a retry is of the oldest event: never one behind it
    assert check(good.records(), world.secrets[2], _ids(rows[2])) == {e: 1 for e in _ids(rows[2])}
    bad_steps = Counter(r["step"] for r in bad.records())
    assert {"refuse", "500", "stall", "close", "reset", "ok"} <= set(bad_steps)
    assert {r.attempts for r in rows[2]} == {1}


def test_a_server_killed_mid_delivery_delivers_the_rest_when_started_again(
    sqlite_url: str, tmp_path: Path
) -> None:
    receiver = Receiver(tmp_path / "got.jsonl", delay=0.05)  # 50 ms a request
    world = setup(sqlite_url, 40, [(receiver.url, ["lead.decided"])])
    env = {"TRIAGE_WEBHOOKS": "timeout=2,backoff=0.05,backoff_cap=0.3,poll=0.05,lease=4"}
    with receiver:
        server = ServerProcess(sqlite_url, env=env).start(60)
        try:
            world.push(server.url, world.lead_ids)
            while len(receiver.records()) < 10:
                time.sleep(0.01)
            server.stop(signal.SIGKILL)  # a request is in flight: the receiver is in it
            cut = len(receiver.records())
            assert [r for r in outbox(sqlite_url)[1] if r.state == "pending"]
            server = ServerProcess(sqlite_url, server.port, env=env).start(60)
            wait_delivered(sqlite_url, 30)
        finally:
            server.stop()
    rows = outbox(sqlite_url)[1]
    came = check(receiver.records(), world.secrets[1], _ids(rows))
    assert len(receiver.records()) > cut
    assert max(came.values()) >= 2  # sent, not yet recorded when it was killed: sent again


def test_two_instances_on_one_postgresql_share_the_work(pg_url: str, tmp_path: Path) -> None:
    receivers = [Receiver(tmp_path / f"r{i}.jsonl", delay=0.02) for i in range(3)]
    world = setup(pg_url, 20, [(r.url, None) for r in receivers])
    env = {"TRIAGE_WEBHOOKS": "timeout=2,poll=0.05,concurrency=1,lease=5"}
    for r in receivers:
        r.start()
    servers = [ServerProcess(pg_url, env=env).launch() for _ in range(2)]
    try:
        for s in servers:
            s.wait_ready(60)
        for i in range(0, 20, 5):
            world.push(servers[(i // 5) % 2].url, world.lead_ids[i : i + 5])
        wait_delivered(pg_url, 60)
    finally:
        for s in servers:
            s.stop()
        for r in receivers:
            r.stop()
    rows = outbox(pg_url)
    for n, r in enumerate(receivers, start=1):
        came = check(r.records(), world.secrets[n], _ids(rows[n]))
        assert set(came.values()) == {1}  # never delivered twice, let alone by both
        attempts = [(x["headers"]["triage-event-id"], x["headers"]["triage-attempt"])
                    for x in r.records()]  # fmt: skip
        assert len(attempts) == len(set(attempts)) == 40
        assert [json.loads(x["body"])["sequence"] for x in r.records()] == list(range(1, 41))
    by = {r.delivered_by for rs in rows.values() for r in rs}
    assert len(by) == 2, by  # both instances delivered
