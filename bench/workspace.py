"""Marketing's workspace at scale: every page and report endpoint over 100,000 leads and
300,000 events, on SQLite (and PostgreSQL when TRIAGE_TEST_PG_URL is set or --pg-url is
given). Target: median and p95 <= 300 ms per page, the period being the last 90 days.

Prints, per page, the median and p95 time of a request (the server in its own process on
loopback, so the time is the server's plus a loopback round trip), beside two baselines
measured in the same run: GET /v1/health (HTTP only, no database) and a bare
`SELECT count(*) FROM lead` (the database alone), and the machine's load average.
Usage: python bench/workspace.py [--leads 100000] [--events 300000] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import median, p95  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.workspace import seed  # noqa: E402
from triage.server.service import Backend  # noqa: E402

TARGET = 0.300
PERIOD = "preset=90d"
PAGES = [
    "/web/?" + PERIOD, "/web/campaigns?" + PERIOD, "/web/campaigns?cross=industry&" + PERIOD,
    "/web/campaigns?cross=attr:rating&" + PERIOD,
    "/web/campaigns.csv?" + PERIOD, "/web/reasons?" + PERIOD, "/web/notes?" + PERIOD,
    "/web/reps?" + PERIOD, "/web/nurture?days=30", "/web/leads?q=corp%205",
    "/web/leads?campaign=q4-launch&outcome=reject&" + PERIOD, "/web/leads/{lead}",
    "/web/policy", "/web/assign", "/web/pack?" + PERIOD,
]  # fmt: skip
API = [
    "/v1/reports/overview?" + PERIOD, "/v1/reports/trend?" + PERIOD,
    "/v1/reports/breakdown?" + PERIOD, "/v1/reports/breakdown?cross=country&" + PERIOD,
    "/v1/reports/breakdown?cross=attr:lifecycle_stage&" + PERIOD,
    "/v1/reports/reasons?" + PERIOD, "/v1/reports/notes?" + PERIOD, "/v1/reports/reps?" + PERIOD,
    "/v1/reports/nurture?days=30", "/v1/reports/leads?q=corp%205", "/v1/reports/leads/{lead}",
    "/v1/reports/policy", "/v1/reports/pack?" + PERIOD,
    "/v1/reports/qualification?by=campaign", "/v1/reports/qualification?by=rep",
]  # fmt: skip


def timed(client: httpx.Client, path: str, runs: int) -> list[float]:
    client.get(path)  # warm
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return out


def line(label: str, values: list[float], target: float | None = TARGET) -> bool:
    med, top = median(values), p95(values)
    ok = target is None or top <= target
    goal = f"<= {target * 1000:.0f} ms" if target else "baseline"
    flag = "" if target is None else ("ok" if ok else "MISSED")
    print(f"  {label:<52} {med * 1000:8.1f} {top * 1000:8.1f}   {goal:<10} {flag}")
    return ok


def run(
    db_url: str, leads: int, events: int, runs: int, only: str | None = None, reuse: bool = False
) -> bool:
    backend = Backend.open(db_url)
    _, token, _ = backend.add_user(f"mo-{uuid.uuid4().hex[:6]}@example.com", "Mo", "marketing")
    if reuse:
        print("  reusing the leads already in the database")
    else:
        t = time.perf_counter()
        wrote = seed(backend, leads, events_per_lead=events / leads, days=365)
        print(f"  seeded {wrote['leads']:,} leads and {wrote['events']:,} events "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
    from sqlalchemy import text

    if not backend.db.is_sqlite:  # as autovacuum leaves a database in use
        with backend.db.write_engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    base = []
    for _ in range(runs):
        t = time.perf_counter()
        with backend.db.read() as s:
            s.execute(text("SELECT count(*) FROM lead")).scalar_one()
        base.append(time.perf_counter() - t)
    lead = backend.lead(f"W-7-{leads // 2:06d}")["id"]
    backend.close()
    ok = True
    with ServerProcess(db_url) as server:
        web = httpx.Client(base_url=server.url, timeout=60)
        form = web.get("/web/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        assert web.post("/web/signin", data={"csrf": csrf, "token": token}).status_code == 303
        api = httpx.Client(base_url=server.url, timeout=60,
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        print(f"  {'page':<52} {'median':>8} {'p95':>8}   (ms)")
        line("baseline: GET /v1/health (no database)", timed(api, "/v1/health", runs), None)
        line("baseline: SELECT count(*) FROM lead (in process)", base, None)
        for client, paths in ((web, PAGES), (api, API)):
            for path in paths:
                if only and not re.search(only, path):
                    continue
                ok &= line(
                    path.replace("{lead}", "ID"), timed(client, path.format(lead=lead), runs)
                )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--pg-url", default=os.environ.get("TRIAGE_TEST_PG_URL"))
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument(
        "--pg-schema",
        help="a PostgreSQL schema to keep: seeded when it does not exist, reused when it "
        "does (seeding 1,000,000 leads takes minutes)",
    )
    ap.add_argument("--only", help="the pages whose path matches this regular expression")
    ap.add_argument(
        "--sqlite-db",
        help="a SQLite file to keep: seeded when it does not exist, "
        "reused (not seeded again) when it does",
    )
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")  # fmt: skip
    ok = True
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as d:
            path = Path(args.sqlite_db or f"{d}/server.db").resolve()
            reuse = path.exists()
            print(f"SQLite, {args.leads:,} leads, {args.events:,} events:")
            ok &= run(f"sqlite:///{path}", args.leads, args.events, args.runs, args.only, reuse)
    if args.pg_url:
        import psycopg

        schema = args.pg_schema or f"bench_{uuid.uuid4().hex[:8]}"
        plain = args.pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            reuse = (
                conn.execute(
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
                ).fetchone()
                is not None
            )
            if not reuse:
                conn.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in plain else "?"
            print(f"PostgreSQL, {args.leads:,} leads, {args.events:,} events:")
            ok &= run(f"{plain}{sep}options=-csearch_path%3D{schema}", args.leads, args.events,
                      args.runs, args.only, reuse)  # fmt: skip
        finally:
            if not args.pg_schema:
                with psycopg.connect(plain, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
