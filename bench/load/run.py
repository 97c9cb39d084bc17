"""Many reps at once (issue 13): Locust, headless, against real `triage server run`
processes on one database, then an exactly-once check of what the reps were told.

It makes a fresh database (a SQLite file, or a fresh schema of the PostgreSQL database at
TRIAGE_TEST_PG_URL with --pg), adds --reps reps and a marketing user, imports
--leads-per-rep open leads for each rep, starts --instances servers on loopback ports and
runs bench/load/locustfile.py for --seconds (the reps share the instances by client-side
round robin). Printed: per request type (pull, push, import) the count, failures, p50,
p95 and p99 and requests per second; the load average; and the exactly-once check: every
mutation a rep was told `applied` is one decision event on the server, none twice, and
every decided lead has one decision. Exit 1 if a request failed or the check does not
hold. Targets (issue 13, 200 reps, 2 instances on PostgreSQL): 0 errors, push p95 <= 150
ms, p99 <= 500 ms. `--no-think` is the stress phase: no wait between decisions.

Usage: python bench/load/run.py [--reps 50] [--seconds 60] [--instances 1] [--pg]
           [--leads-per-rep 200 (2,000 with --no-think)] [--import-per-minute 0]
           [--no-think]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from bench._util import load_average  # noqa: E402
from bench.server_sync import _fresh as fresh_database  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from triage.server.service import Backend  # noqa: E402


@contextmanager
def _database(pg: bool, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema of TRIAGE_TEST_PG_URL's database (dropped)."""
    if not pg:
        yield f"sqlite:///{tmp / 'server.db'}"
        return
    with fresh_database(os.environ["TRIAGE_TEST_PG_URL"]) as url:
        assert url is not None
        yield url


def _spawn_rate(users: int, no_think: bool) -> float:
    """Reps a second Locust starts: spread over one push period (10 decisions at one a
    second), so that the reps' pushes do not come in step (200 reps started in 5 s
    pushed in waves of 40, every 10 s, for the whole run: a queue on the counter row no
    team makes). With no think time (the stress phase), all at once."""
    return float(users) if no_think else max(1.0, users / 10)


def _setup(db_url: str, reps: int, per_rep: int) -> tuple[list[str], list[str], str]:
    backend = Backend.open(db_url)
    try:
        emails = [f"rep{n}@load.example" for n in range(reps)]
        tokens = [backend.add_user(e, None, "rep")[1] for e in emails]
        marketing = backend.add_user("mkt@load.example", None, "marketing")[1]
        rows = [{"external_id": f"seed-{n}-{i}", "name": f"Seed {n} {i}",
                 "email": f"s{n}x{i}@seed.example", "company": f"Co {i % 50}",
                 "source": "webinar", "campaign": f"c{i % 7}", "score": i % 101,
                 "owner": email}
                for n, email in enumerate(emails) for i in range(per_rep)]  # fmt: skip
        backend.import_leads(rows)
    finally:
        backend.close()
    return emails, tokens, marketing


def _check(db_url: str, applied: dict[str, list[int]]) -> tuple[bool, str]:
    """Every mutation a rep was told applied is exactly one decision event; no decided
    lead has two."""
    from sqlalchemy import func, select

    from triage.server import models

    backend = Backend.open(db_url)
    try:
        with backend.db.read() as s:
            E = models.Event
            rows = s.execute(
                select(E.client_id, E.mutation_seq, func.count())
                .where(E.kind == "decide")
                .group_by(E.client_id, E.mutation_seq)
            ).all()
            per_lead = s.execute(
                select(func.count()).select_from(
                    select(E.lead_id).where(E.kind == "decide").group_by(E.lead_id)
                    .having(func.count() > 1).subquery()
                )
            ).scalar_one()  # fmt: skip
            decided = s.execute(
                select(func.count()).select_from(models.Lead).where(models.Lead.status != "open")
            ).scalar_one()
    finally:
        backend.close()
    events = {(c, q): n for c, q, n in rows}
    told = {(c, q) for c, seqs in applied.items() for q in seqs}
    twice = sum(1 for n in events.values() if n > 1)
    missing = len(told - events.keys())
    extra = len(events.keys() - told)
    ok = twice == 0 and missing == 0 and per_lead == 0 and decided == len(told)
    return ok, (
        f"{len(told):,} mutations applied as told; server: {len(events):,} decision events, "
        f"{decided:,} decided leads; missing {missing}, twice {twice}, not told {extra}, "
        f"leads decided twice {per_lead}"
    )


def _lock_wait(urls: list[str]) -> str:
    """What the change counter's lock cost, from each instance's /metrics (loopback): the
    writes that took it, their mean and slowest-bucket wait, and the share of the pushes'
    time spent waiting for it: the sign that the one counter row is the bottleneck."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    count = total = push_time = 0.0
    buckets: dict[float, float] = {}
    for url in urls:
        for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
            for x in family.samples:
                if x.name == "triage_db_write_lock_wait_seconds_count":
                    count += x.value
                elif x.name == "triage_db_write_lock_wait_seconds_sum":
                    total += x.value
                elif x.name == "triage_db_write_lock_wait_seconds_bucket":
                    le = float(x.labels["le"])
                    buckets[le] = buckets.get(le, 0) + x.value
                elif (
                    x.name == "triage_http_request_duration_seconds_sum"
                    and x.labels.get("route") == "/v1/sync/push"
                ):
                    push_time += x.value
    if not count:
        return "no write took the lock"
    p95 = next((le for le, n in sorted(buckets.items()) if n >= 0.95 * count), float("inf"))
    share = f"{100 * total / push_time:.0f}% of the pushes' time" if push_time else "no push"
    return (f"{count:,.0f} writes, mean wait {1000 * total / count:.1f} ms, p95 <= "
            f"{1000 * p95:g} ms; waiting for it: {share} (an upper bound: imports wait too)")  # fmt: skip


def _report(prefix: Path, seconds: float) -> bool:
    ok = True
    print(
        f"  {'request':<8} {'count':>8} {'fail':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'req/s':>8}"
    )
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as f:
        for row in csv.DictReader(f):
            name = row["Name"] if row["Name"] != "Aggregated" else "all"
            fails = int(row["Failure Count"])
            ok = ok and fails == 0
            print(f"  {name:<8} {int(row['Request Count']):>8,} {fails:>6} "
                  f"{row['50%']:>6} ms {row['95%']:>5} ms {row['99%']:>5} ms "
                  f"{float(row['Requests/s']):>8.1f}")  # fmt: skip
    failures = prefix.parent / f"{prefix.name}_failures.csv"
    if failures.exists():
        for row in list(csv.DictReader(failures.open()))[:5]:
            print(f"    failure: {row['Name']}: {row['Error'][:120]} x{row['Occurrences']}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--pg", action="store_true", help="PostgreSQL at TRIAGE_TEST_PG_URL")
    ap.add_argument(
        "--leads-per-rep",
        type=int,
        default=None,
        help="200; with --no-think 2,000 (a rep decides for the whole run)",
    )
    ap.add_argument(
        "--import-per-minute",
        type=int,
        default=0,
        help="new leads marketing posts a minute, in 5 requests (issue 13: 10000)",
    )
    ap.add_argument("--no-think", action="store_true", help="stress: no wait between decisions")
    args = ap.parse_args()
    if args.leads_per_rep is None:
        args.leads_per_rep = 2000 if args.no_think else 200
    if args.pg and not os.environ.get("TRIAGE_TEST_PG_URL"):
        print("--pg needs TRIAGE_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)",
              file=sys.stderr)  # fmt: skip
        return 2
    engine = "PostgreSQL" if args.pg else "SQLite"
    print(f"load: {args.reps} reps, {args.instances} instance(s) on {engine}, {args.seconds} s, "
          f"{'no think time' if args.no_think else '1 decision/s/rep, push every 10'}, "
          f"import {args.import_per_minute:,} leads/min; {load_average()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as d, _database(args.pg, Path(d)) as db_url:
        tmp = Path(d)
        emails, tokens, marketing = _setup(db_url, args.reps, args.leads_per_rep)
        servers = [ServerProcess(db_url).start() for _ in range(args.instances)]
        try:
            accounts = tmp / "accounts.json"
            accounts.write_text(json.dumps({"hosts": [s.url for s in servers], "reps": tokens,
                                            "emails": emails, "marketing": marketing}))  # fmt: skip
            results = tmp / "applied.json"
            env = {**os.environ, "TRIAGE_LOAD_ACCOUNTS": str(accounts),
                   "TRIAGE_LOAD_RESULTS": str(results),
                   "TRIAGE_LOAD_THINK": "0" if args.no_think else "1",
                   "TRIAGE_LOAD_IMPORT_BATCH": str(args.import_per_minute // 5),
                   "TRIAGE_LOAD_IMPORT_EVERY": "12"}  # fmt: skip
            prefix = tmp / "stats"
            users = args.reps + (1 if args.import_per_minute else 0)
            locust = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"),
                      "--headless", "--users", str(users), "--spawn-rate", str(_spawn_rate(users, args.no_think)),
                      "--run-time", f"{args.seconds}s", "--stop-timeout", "15",
                      "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
                      "--exit-code-on-error", "0"]  # fmt: skip
            ran = subprocess.run(locust, env=env, capture_output=True, text=True)
            if ran.returncode != 0 or not results.exists():
                print(ran.stderr[-3000:], file=sys.stderr)
                return 1
            applied = json.loads(results.read_text())
            lock = _lock_wait([s.url for s in servers])
        finally:
            for s in servers:
                s.stop()
        ok = _report(prefix, args.seconds)
        print(f"  change counter's lock: {lock}")
        exact, said = _check(db_url, applied)
        print(f"  exactly once: {'ok' if exact else 'BROKEN'}: {said}")
    print(f"  {load_average()} (at the end)")
    return 0 if ok and exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
