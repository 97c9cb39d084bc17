"""A rep's sync while marketing imports a large file (issue 13): the sync must not wait
for the import. `triage server run` and `triage server import` each in their own process,
on one SQLite file (or PostgreSQL with --pg / --db-url), as an operator runs them.

The rep decides two leads and syncs, again and again, while the import runs. Printed:
the longest and the median sync during the import (target: <= 2 s each), the import's
time and rate (target for 100,000 rows: <= 10 s on SQLite) and the import process's peak
memory (target <= 250 MB). Baseline measured in the same run: the same sync with no
import running (median of 5), and the ratio to it.

Usage: python bench/import_stall.py [--rows 100000] [--db-url URL | --pg]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import baseline, load_average, median, report  # noqa: E402
from tests.support.client import Device  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from triage.server.service import Backend  # noqa: E402

REP = "ann@example.com"
OTHER = "bob@example.com"


def _row(n: int, prefix: str, owner: str = REP) -> dict[str, object]:
    return {
        "external_id": f"{prefix}-{n}", "name": f"Person {n}", "email": f"{prefix}{n}@corp{n % 97}.example",
        "company": f"Corp {n % 97}", "title": "VP Operations", "campaign": f"campaign-{n % 5}",
        "source": "webinar", "score": n % 101, "owner": owner, "mql_at": "2026-11-20T09:00:00Z",
    }  # fmt: skip


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(_row(0, "x")))
        w.writeheader()
        for n in range(rows):
            w.writerow(_row(n, "big", OTHER))  # another rep's: this one pulls no more


def _sync_once(dev: Device, ids: list[str]) -> float:
    if len(ids) >= 2:
        dev.decide([ids.pop(), ids.pop()], "accept")
    t = time.perf_counter()
    report_ = dev.sync()
    took = time.perf_counter() - t
    if not report_.ok:
        raise SystemExit(f"the rep's sync failed: {report_.error}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--db-url")
    ap.add_argument("--pg", action="store_true", help="TRIAGE_TEST_PG_URL's database")
    args = ap.parse_args()
    db_url = os.environ["TRIAGE_TEST_PG_URL"] if args.pg else args.db_url
    print(f"import_stall: {args.rows:,} rows; {load_average()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db_url = db_url or f"sqlite:///{tmp / 'server.db'}"
        backend = Backend.open(db_url)
        _, token, _ = backend.add_user(REP, None, "rep")
        backend.add_user(OTHER, None, "rep")
        backend.upsert_leads([_row(n, "rep") for n in range(3000)])
        backend.close()
        big = tmp / "big.csv"
        _write_csv(big, args.rows)
        server = ServerProcess(db_url).start()
        try:
            dev = Device(tmp / "laptop", server.url, token)
            dev.home.mkdir()
            assert dev.sync().ok
            ids = sorted(dev.open_ids())
            alone = [_sync_once(dev, ids) for _ in range(5)]
            argv = [sys.executable, "-m", "triage", "server", "import", str(big), "--db", db_url]
            started = time.perf_counter()
            errors = (tmp / "import.err").open("w+")
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors)
            usage: dict = {}

            def wait() -> None:
                _pid, status, ru = os.wait4(proc.pid, 0)
                usage.update(status=status, rss=ru.ru_maxrss * 1024, at=time.perf_counter())

            waiter = threading.Thread(target=wait)
            waiter.start()
            during, when = [], []
            while waiter.is_alive() and ids:
                when.append(time.perf_counter() - started)
                during.append(_sync_once(dev, ids))
            waiter.join()
            took = usage["at"] - started
            if usage["status"] != 0:
                errors.seek(0)
                raise SystemExit(f"the import failed: {errors.read()[-2000:]}")
        finally:
            server.stop()
    print(f"  {len(during)} syncs during the import")
    if os.environ.get("TRIAGE_BENCH_TRACE"):
        print("  " + " ".join(f"{w:.1f}+{d:.2f}" for w, d in zip(when, during, strict=True)))
    report("longest rep sync during the import", max(during), 2.0)
    report("median rep sync during the import", median(during), 2.0)
    baseline("the same sync, no import running (median of 5)", median(alone), max(during))
    target = 10.0 * args.rows / 100_000
    report(f"import of {args.rows:,} rows (CLI process)", took, target)
    print(f"    {args.rows / took:,.0f} rows/s")
    report("import process peak RSS", usage["rss"] / 2**20, 250, unit="MB")


if __name__ == "__main__":
    main()
