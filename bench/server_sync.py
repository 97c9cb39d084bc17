"""Server sync throughput over HTTP on loopback (`triage server run` in its own process):
pull 10,000 leads in pages of 500, push 10,000 mutations in batches of 500 (asking for
patches, as the client does from a server with "push_patch"). Targets: pull <= 1 s, push
>= 10,000 mutations a second, p95 request <= 150 ms. SQLite by default; --db-url (or
--pg, which takes TRIAGE_TEST_PG_URL) for PostgreSQL.

Baselines measured in the same run: a `GET /v1/health` round trip on the same connection
(the HTTP floor of one request), and a bare sqlite3 executemany of 10,000 rows of the
push's four writes (the database floor).

Runs 3 times on a fresh database each time and prints the median of each figure.
Usage: python bench/server_sync.py [--leads 10000] [--runs 3] [--db-url URL | --pg]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import baseline, load_average, median, p95, report  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from triage.server.service import Backend  # noqa: E402


def one_run(n: int, page: int, db_url: str | None) -> tuple[float, float, list[float], float]:
    with tempfile.TemporaryDirectory() as d:
        db_url = db_url or f"sqlite:///{d}/server.db"
        backend = Backend.open(db_url)
        _, token, _ = backend.add_user(f"rep-{uuid.uuid4().hex[:6]}@example.com", None, "rep")
        email = backend.authenticate(token).email
        rows = [
            {
                "external_id": f"b-{uuid.uuid4().hex}",
                "name": f"Lead {i}",
                "email": f"l{i}@corp.example",
                "company": f"Corp {i % 97}",
                "campaign": f"c{i % 5}",
                "source": "webinar",
                "score": i % 100,
                "owner": email,
                "evidence_budget": "Form: $50k-100k",
            }  # fmt: skip
            for i in range(n)
        ]
        for i in range(0, n, 5000):
            backend.upsert_leads(rows[i : i + 5000])
        latencies: list[float] = []
        backend.close()
        with (
            ServerProcess(db_url) as srv,
            httpx.Client(
                base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client,
        ):
            health = client.get("/v1/health").json()  # (opens the connection)
            patch = "push_patch" in health.get("features", [])
            rounds = []
            for _ in range(40):
                t = time.perf_counter()
                client.get("/v1/health")
                rounds.append(time.perf_counter() - t)
            client_id = str(uuid.uuid4())
            ids: list[str] = []
            cursor, t0 = 0, time.perf_counter()
            while True:
                t = time.perf_counter()
                r = client.get(
                    "/v1/sync/pull",
                    params={"cursor": cursor, "limit": page, "client_id": client_id},
                )
                body = r.json()
                latencies.append(time.perf_counter() - t)
                ids += [lead["id"] for lead in body["leads"]]
                cursor = body["cursor"]
                if not body["has_more"]:
                    break
            pull_s = time.perf_counter() - t0
            assert len(ids) == n, len(ids)
            at = "2026-11-22T10:00:00Z"
            muts = [
                {
                    "seq": i + 1,
                    "lead_id": lid,
                    "type": "decide",
                    "outcome": "reject",
                    "reason": "no_budget",
                    "note": None,
                    "at": at,
                    "base_version": 1,
                }  # fmt: skip
                for i, lid in enumerate(ids)
            ]
            t0 = time.perf_counter()
            for i in range(0, n, page):
                t = time.perf_counter()
                body = {"client_id": client_id, "mutations": muts[i : i + page]}
                r = client.post("/v1/sync/push", json=body | ({"patch": True} if patch else {}))
                r.raise_for_status()
                latencies.append(time.perf_counter() - t)
                assert all(x["status"] == "applied" for x in r.json()["results"])
            push_s = time.perf_counter() - t0
        return pull_s, push_s, latencies, median(rounds)


def bare_writes(n: int) -> float:
    """The database floor under a push of n: n rows into each of four tables like the
    push's (mutation log, lead update, event, change log), one executemany each, one
    transaction, WAL and synchronous=FULL, bare sqlite3."""
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(f"{d}/bare.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for name in ("log", "lead", "event", "change"):
            conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT)")
        rows = [(i, f"lead-{i}", "2026-11-22 10:00:00.000000", '{"outcome": "reject"}')
                for i in range(n)]  # fmt: skip
        conn.executemany("INSERT INTO lead VALUES (?, ?, ?, ?)", rows)
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for name in ("log", "event", "change"):
            conn.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?)", rows)
        conn.executemany(
            "UPDATE lead SET c = ?, b = ? WHERE id = ?", [(r[3], r[2], r[0]) for r in rows]
        )
        conn.execute("COMMIT")
        took = time.perf_counter() - t
        conn.close()
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=10_000)
    ap.add_argument("--page", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db-url", help="server database (default: a fresh SQLite file per run)")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL at TRIAGE_TEST_PG_URL")
    args = ap.parse_args()
    db_url = args.db_url or (os.environ["TRIAGE_TEST_PG_URL"] if args.pg else None)
    print(f"server sync, {args.leads} leads, pages/batches of {args.page}, "
          f"median of {args.runs} runs, {'PostgreSQL' if db_url else 'SQLite'}")  # fmt: skip
    print(f"  {load_average()}")
    pulls, pushes, p95s, rounds = [], [], [], []
    for _ in range(args.runs):
        with _fresh(db_url) as url:
            pull_s, push_s, lat, health = one_run(args.leads, args.page, url)
        pulls.append(pull_s)
        pushes.append(push_s)
        p95s.append(p95(lat))
        rounds.append(health)
    ok = report(f"pull {args.leads} leads", median(pulls), 1.0)
    rate = args.leads / median(pushes)
    ok &= report(f"push {args.leads} mutations", rate, 10_000, "mutations/s", lower_is_better=False)
    ok &= report("p95 request", median(p95s), 0.150, unit="ms")
    requests = 2 * (args.leads // args.page)
    baseline(f"GET /v1/health round trip (x {requests} requests)", median(rounds) * requests)
    baseline(f"bare sqlite3: the push's four writes of {args.leads} rows", bare_writes(args.leads),
             median(pushes))  # fmt: skip
    print(f"  {load_average()}")
    return 0 if ok else 1


@contextmanager
def _fresh(db_url: str | None) -> Iterator[str | None]:
    """None (a fresh SQLite file: one_run makes it), the URL given for SQLite, or a fresh
    schema of the PostgreSQL database, dropped after the run."""
    if not db_url or db_url.startswith("sqlite"):
        yield db_url
        return
    import psycopg

    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in plain else "?"
        yield f"{plain}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    raise SystemExit(main())
