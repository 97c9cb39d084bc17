"""Webhooks: delivery throughput and latency, and what a dead endpoint costs a push.

The server runs as its own process (`triage server run`, which delivers), the receiver as
another (tests/support/receiver.py, answering 200 at once), on loopback; SQLite, and
PostgreSQL when a URL is given.

- Throughput: N events already in the outbox (N decisions pushed while the server was
  down), the server started: events delivered per second, from the first delivery to
  the last, as the receiver logged them. Baseline: the same receiver taking N POSTs of
  the same size from one plain httpx client, one after another (what one connection
  can carry). Target >= 100 events/s (a big team's day of 10,000 decisions in under two
  minutes); one endpoint is delivered one event at a time, to keep its order.
- Latency: single-decision pushes, about 5 a second; from the push's start to the
  receiver getting the event, p50 and p95. Target p95 <= 2 s. Baseline: the push's own
  round trip.
- A dead endpoint: 10,000 decisions pushed in batches of 500 to a server whose one
  endpoint refuses connections (every event goes to the outbox; the endpoint is retried
  meanwhile), against the same push with no endpoint at all. Medians of --runs runs,
  alternated; target: within 10%.

Usage: python bench/webhooks.py [--events 2000] [--pushes 60] [--leads 10000] [--runs 3]
       [--pg-url URL] [--no-sqlite] [--parts throughput,latency,push]  (PostgreSQL too when TRIAGE_TEST_PG_URL is set)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import median, p95, report  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.webhooks import setup, wait_delivered  # noqa: E402
from triage.server import models  # noqa: E402
from triage.server.service import Backend  # noqa: E402

SETTINGS = {"TRIAGE_WEBHOOKS": "poll=0.25"}  # the defaults, spelled out


def _lead_ids(db_url: str) -> list[str]:
    b = Backend.open(db_url)
    try:
        with b.db.read() as s:
            return list(s.execute(select(models.Lead.id).order_by(models.Lead.seq)).scalars())
    finally:
        b.close()


class Databases:
    """Fresh databases for the runs: SQLite files in `d`, or PostgreSQL schemas at `pg`
    (dropped at the end)."""

    def __init__(self, d: Path, pg: str | None):
        self.d, self.pg, self.schemas = d, pg, []

    def new(self, name: str) -> str:
        if self.pg is None:
            return f"sqlite:///{self.d}/{name}.db"
        import psycopg

        schema = f"bench_{name.replace('-', '_')}_{os.getpid()}"
        with psycopg.connect(self.pg, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        sep = "&" if "?" in self.pg else "?"
        return f"{self.pg}{sep}options=-csearch_path%3D{schema}"

    def close(self) -> None:
        if self.schemas:
            import psycopg

            with psycopg.connect(self.pg, autocommit=True) as conn:
                for schema in self.schemas:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")


def throughput(dbs: Databases, d: Path, n: int) -> tuple[float, float]:
    """(events/s through the server, baseline POSTs/s to the receiver)."""
    db_url = dbs.new("throughput")
    receiver = Receiver(d / "throughput.jsonl")
    world = setup(db_url, n, [(receiver.url, ["lead.decided"])])
    ids = _lead_ids(db_url)
    with ServerProcess(db_url, env={"TRIAGE_WEBHOOKS": "off"}) as server:  # fill the outbox
        for i in range(0, n, 500):
            world.push(server.url, ids[i : i + 500])
    with receiver:
        with ServerProcess(db_url, env=SETTINGS):
            wait_delivered(db_url, 600)
        times = [r["t"] for r in receiver.records()]
        body = receiver.records()[0]["body"].encode()
        with httpx.Client() as client:
            started = time.perf_counter()
            for _ in range(n):
                client.post(receiver.url, content=body).raise_for_status()
            base = n / (time.perf_counter() - started)
    assert len(times) >= n
    return (n - 1) / (max(times) - min(times)), base


def latency(dbs: Databases, d: Path, pushes: int) -> tuple[list[float], list[float]]:
    """(push to delivery, push round trip) in seconds, one decision a push."""
    db_url = dbs.new("latency")
    receiver = Receiver(d / "latency.jsonl")
    world = setup(db_url, pushes, [(receiver.url, ["lead.decided"])])
    ends, trips = [], []
    with receiver, ServerProcess(db_url, env=SETTINGS) as server:
        for lead_id in world.lead_ids:
            started = time.time()
            trips.append(world.push(server.url, [lead_id]))
            seq = world.seq
            while True:
                got = [r for r in receiver.records()
                       if json.loads(r["body"])["data"]["decision_id"].endswith(f":{seq}")]  # fmt: skip
                if got:
                    ends.append(got[0]["t"] - started)
                    break
                time.sleep(0.01)
            time.sleep(0.2)
    return ends, trips


def dead_push(dbs: Databases, leads: int, dead: bool, run: int) -> float:
    db_url = dbs.new(f"push-{run}-{int(dead)}")
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    world = setup(db_url, leads, [(f"http://127.0.0.1:{port}/hooks", None)] if dead else [])
    ids = _lead_ids(db_url)
    took = 0.0
    with ServerProcess(db_url, env=SETTINGS) as server:
        httpx.get(server.url + "/v1/health")
        for i in range(0, leads, 500):
            took += world.push(server.url, ids[i : i + 500])
    return took


def measure(dbs: Databases, d: Path, args: argparse.Namespace) -> bool:
    ok = True
    if "throughput" in args.parts:
        rate, base = throughput(dbs, d, args.events)
        fast = rate >= 100
        ok &= fast
        print(f"  {'delivered, ' + str(args.events) + ' events, one endpoint':<46} "
              f"{rate:>8.0f} /s    target >= 100 /s   {'ok' if fast else 'MISSED'}")  # fmt: skip
        print(f"    baseline: the receiver alone, one client, POSTs one after another "
              f"{base:.0f}/s")  # fmt: skip
    if "latency" in args.parts:
        ends, trips = latency(dbs, d, args.pushes)
        ok &= report(f"push to delivery p50 ({args.pushes} pushes)", median(ends), 2.0)
        ok &= report(f"push to delivery p95 ({args.pushes} pushes)", p95(ends), 2.0)
        print(f"    baseline: the push's own round trip, p50 {median(trips) * 1000:.1f} ms")
    if "push" not in args.parts:
        return ok
    none, dead = [], []
    for run in range(args.runs):
        none.append(dead_push(dbs, args.leads, False, run))
        dead.append(dead_push(dbs, args.leads, True, run))
    ratio = median(dead) / median(none)
    ok &= report(f"push {args.leads} decisions, endpoint dead", median(dead),
                 1.1 * median(none))  # fmt: skip
    print(f"    baseline: the same push, no endpoint {median(none):.3f} s; dead / none = "
          f"{ratio:.3f} (target <= 1.10); runs: none {[round(x, 2) for x in none]}, "
          f"dead {[round(x, 2) for x in dead]}")  # fmt: skip
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--pushes", type=int, default=60)
    ap.add_argument("--leads", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg-url", default=os.environ.get("TRIAGE_TEST_PG_URL"),
                    help="also on PostgreSQL (default: $TRIAGE_TEST_PG_URL)")  # fmt: skip
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--parts", default="throughput,latency,push",
                    help="which figures (default: throughput,latency,push)")  # fmt: skip
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")  # fmt: skip
    ok = True
    engines = ([] if args.no_sqlite else [("SQLite", None)]) + (
        [("PostgreSQL", args.pg_url.replace("postgresql+psycopg://", "postgresql://"))]
        if args.pg_url else []
    )  # fmt: skip
    for name, pg in engines:
        print(name + ":")
        with tempfile.TemporaryDirectory() as tmp:
            dbs = Databases(Path(tmp), pg)
            try:
                ok &= measure(dbs, Path(tmp), args)
            finally:
                dbs.close()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
