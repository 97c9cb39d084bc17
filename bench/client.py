"""Client figures, each beside its target (medians; baselines measured in the same run):

- `triage decide reject` of 10,000 leads, the whole command as a process      <= 1 s
- one decision's commit (Store.decide of one lead, synchronous=FULL)          <= 10 ms
- a first sync that pulls 10,000 leads, against a server process               <= 1.0 s
- a sync that pushes 10,000 and pulls 10,000 against a server process          <= 1.5 s
- one filtered, sorted queue page over 100,000 local leads                     <= 50 ms
- a first `triage sync` of 100,000 leads, the whole command as a process       <= 10 s, <= 300 MB

The syncs are `run_once` as `triage sync` calls it (store, lock, HTTP client, engine), in
this process; the server is `triage server run` in its own, on loopback, SQLite, warmed
by another rep's sync first (a running server has served requests before).

The 100,000-lead first sync is `triage login` then `triage sync` as a rep runs them (the
time and peak RSS of the sync process alone); its baseline is the same process's start-up
(`triage status` against the same empty store), and the bare sqlite3 floor of writing the
leads' JSON.

Usage: python bench/client.py [--runs 3] [--only sync|first100k]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import bare_sqlite_rows, baseline, load_average, median, report  # noqa: E402
from tests.support.factories import make_leads  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from triage import domain  # noqa: E402
from triage.server.service import Backend  # noqa: E402
from triage.store import Store  # noqa: E402
from triage.sync.runner import run_once  # noqa: E402

NOW = datetime.now(timezone.utc)


def filled_store(path: Path, n: int) -> Store:
    store = Store.open(path)
    leads = make_leads(0, n, now=NOW)
    for i in range(0, n, 5000):
        store.apply_pull(leads[i : i + 5000], [], cursor=i + 5000)
    store.save_policy(domain.DEFAULT_POLICY)
    return store


def bench_decide_cli(tmp: Path, runs: int) -> tuple[float, float]:
    times, base = [], []
    for r in range(runs):
        home = tmp / f"cli{r}"
        home.mkdir()
        store = filled_store(home / "triage.db", 10_000)
        ids = store.queue_ids(domain.Filter(), "sla")
        store.close()
        env = {**os.environ, "TRIAGE_HOME": str(home)}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import triage.cli"], check=True, env=env)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "triage", "decide", "reject", "-", "--reason", "no_budget"],
            input="\n".join(ids), text=True, check=True, env=env, capture_output=True,
        )  # fmt: skip
        times.append(time.perf_counter() - t)
    return median(times), median(base)


def bench_single_commit(tmp: Path) -> tuple[float, float]:
    store = filled_store(tmp / "single.db", 2_000)
    ids = store.queue_ids(domain.Filter(), "sla")
    times = []
    for lead_id in ids[:200]:
        t = time.perf_counter()
        store.decide([lead_id], "reject", reason="no_budget")
        times.append(time.perf_counter() - t)
    store.close()
    # Baseline: one bare INSERT + COMMIT with the same durability settings, same disk.
    conn = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (x)")
    base = []
    for i in range(200):
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?)", (i,))
        conn.execute("COMMIT")
        base.append(time.perf_counter() - t)
    conn.close()
    return statistics.median(times), statistics.median(base)


def _server_with_leads(tmp: Path, r: int, n: int) -> tuple[str, str, str]:
    """A fresh server database with `n` open leads of one rep, and 20 of another:
    (URL, the rep's token, the other's)."""
    db_url = f"sqlite:///{tmp}/sync-server{r}.db"
    backend = Backend.open(db_url)
    email = f"rep-{uuid.uuid4().hex[:6]}@example.com"
    _, token, _ = backend.add_user(email, None, "rep")
    _, other, _ = backend.add_user(f"other-{email}", None, "rep")
    backend.upsert_leads(
        [{"external_id": f"o{r}-{i}", "name": "Other", "email": f"o{i}@c.example",
          "owner": f"other-{email}"} for i in range(20)]
    )  # fmt: skip
    rows = [
        {
            "external_id": f"s{r}-{i}",
            "name": f"Lead {i}",
            "email": f"l{i}@c.example",
            "company": f"Corp {i % 97}",
            "campaign": f"c{i % 5}",
            "source": "webinar",
            "score": i % 100,
            "owner": email,
        }  # fmt: skip
        for i in range(n)
    ]
    for i in range(0, len(rows), 5000):
        backend.upsert_leads(rows[i : i + 5000])
    backend.close()
    return db_url, token, other


def _warm(tmp: Path, url: str, token: str) -> None:
    """Another rep's first sync and a push of 5 decisions: the server process has served
    every kind of request once, as a running server has (its first requests import and
    compile what later ones reuse)."""
    db = tmp / f"warm-{uuid.uuid4().hex[:6]}.db"
    assert run_once(db, url, token).ok
    store = Store.open(db)
    store.decide(store.queue_ids(domain.Filter(), "sla")[:5], "reject", reason="no_budget")
    store.close()
    assert run_once(db, url, token).ok


def bench_sync(tmp: Path, runs: int) -> tuple[float, float, float]:
    """(first sync pulling 10,000; sync pushing 10,000 and pulling 10,000; the bare floor)."""
    firsts, times = [], []
    for r in range(runs):
        db_url, token, other = _server_with_leads(tmp, r, 10_000)
        with ServerProcess(db_url) as srv:
            _warm(tmp, srv.url, other)
            db = tmp / f"sync-client{r}.db"
            # The first sync pulls the rep's 10,000 leads; the rep rejects them all (not
            # timed); the second sync pushes the 10,000 decisions and pulls the 10,000
            # changed leads back.
            t = time.perf_counter()
            result = run_once(db, srv.url, token)
            firsts.append(time.perf_counter() - t)
            assert result.ok and result.pulled == 10_000, result
            store = Store.open(db)
            store.decide(store.queue_ids(domain.Filter(), "sla"), "reject", reason="no_budget")
            store.close()
            t = time.perf_counter()
            result = run_once(db, srv.url, token)
            times.append(time.perf_counter() - t)
            assert result.ok and result.pushed == 10_000 and result.pulled == 10_000, result
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, json FROM lead_server").fetchall()
    conn.close()
    return median(firsts), median(times), bare_sqlite_rows(rows)


def bench_first_sync_100k(tmp: Path, runs: int) -> tuple[float, float, float, float]:
    """(time, peak RSS in MB of `triage sync` pulling 100,000 leads, the start-up baseline,
    the bare floor)."""
    times, rss, starts = [], [], []
    floor = 0.0
    for r in range(runs):
        db_url, token, other = _server_with_leads(tmp, 100 + r, 100_000)
        with ServerProcess(db_url) as srv:
            _warm(tmp, srv.url, other)
            home = tmp / f"first100k-{r}"
            home.mkdir()
            env = {**os.environ, "TRIAGE_HOME": str(home)}
            subprocess.run(
                [sys.executable, "-m", "triage", "login", "--server", srv.url, "--token", "-"],
                input=token, text=True, check=True, env=env, capture_output=True,
            )  # fmt: skip
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "triage", "status"], check=True, env=env,
                           capture_output=True)  # fmt: skip
            starts.append(time.perf_counter() - t)
            t = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "triage", "sync", "--json"], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            out = proc.stdout.read() if proc.stdout else b""
            _, status, usage = os.wait4(proc.pid, 0)
            times.append(time.perf_counter() - t)
            proc.returncode = os.waitstatus_to_exitcode(status)
            assert proc.returncode == 0, out
            rss.append(usage.ru_maxrss / 1024)
            db = next(home.rglob("triage.db"))
            conn = sqlite3.connect(db)
            assert conn.execute("SELECT count(*) FROM lead_server").fetchone()[0] == 100_000
            rows = conn.execute("SELECT id, json FROM lead_server").fetchall()
            conn.close()
            floor = bare_sqlite_rows(rows)
    return median(times), median(rss), median(starts), floor


def bench_queue_page(tmp: Path) -> tuple[float, float]:
    store = filled_store(tmp / "page.db", 100_000)
    flt = domain.parse_filter("source:tradeshow score:>20 acme")
    times, unfiltered = [], []
    for i in range(30):
        t = time.perf_counter()
        rows = store.queue_page(flt, "sla", (i * 37) % 500, 100)
        times.append(time.perf_counter() - t)
        assert rows
        t = time.perf_counter()
        store.queue_page(domain.Filter(), "sla", 0, 100)
        unfiltered.append(time.perf_counter() - t)
    store.close()
    return statistics.median(times), statistics.median(unfiltered)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--only", choices=["sync", "first100k"], help="only the 10,000-lead syncs, or the 100,000"
    )
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"client benchmarks (median of {args.runs} runs where a run is a whole command)")
        print(f"  {load_average()}")
        if args.only is None:
            cli, cli_base = bench_decide_cli(tmp, args.runs)
            ok &= report("triage decide reject, 10,000 leads", cli, 1.0)
            baseline("interpreter + `import triage.cli` alone", cli_base, cli)
            one, bare = bench_single_commit(tmp)
            ok &= report("one decision committed (median of 200)", one, 0.010, unit="ms")
            baseline("a bare SQLite INSERT+COMMIT, synchronous=FULL", bare, one, unit="ms")
        if args.only in (None, "sync"):
            first, sync, floor = bench_sync(tmp, args.runs)
            ok &= report("first sync: pull 10,000", first, 1.0)
            ok &= report("sync: push 10,000 + pull 10,000", sync, 1.5)
            baseline(
                "the 10,000 leads' JSON decoded, encoded, one executemany (bare sqlite3)",
                floor,
                sync,
            )
        if args.only in (None, "first100k"):
            took, rss, start, floor = bench_first_sync_100k(tmp, args.runs)
            ok &= report("first `triage sync` of 100,000 leads", took, 10.0)
            ok &= report("  its peak RSS", rss, 300, unit="MB")
            baseline("`triage status` (the process's start-up)", start, took)
            baseline("the 100,000 leads' JSON, bare sqlite3", floor, took)
        if args.only is None:
            page, plain = bench_queue_page(tmp)
            ok &= report("filtered sorted page of 100 over 100,000 leads", page, 0.050, unit="ms")
            baseline("the unfiltered first page", plain, page, unit="ms")
        print(f"  {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
