"""A large `triage server import` on SQLite (issue 13): 100,000 rows in <= 10 s and
<= 250 MB peak RSS, the CLI process timed whole (start-up included), as an operator runs it.

Three figures, each the median of --runs runs on a fresh database: a first import (every
row created), the same file again (every row unchanged: read, checked and compared, nothing
written) and a dry run of it. Baselines measured in the same run: the floor under any
import of these rows (the CSV parsed by the csv module and written by one sqlite3
executemany in one transaction, a fresh file, WAL, synchronous=FULL) and the peak RSS of
a process that only imports the server stack (`python -c 'import triage.server.service'`).

Usage: python bench/import_big.py [--rows 100000] [--runs 3] [--profile DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import baseline, load_average, median, report  # noqa: E402
from bench.import_stall import OTHER, REP, _write_csv  # noqa: E402
from triage.server.service import Backend  # noqa: E402


def _run(argv: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of a child process, timed from fork to exit."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _pid, status, ru = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])} failed:\n{err.decode()[-2000:]}")
    return took, ru.ru_maxrss / 1024, out.decode()


def _floor(path: Path, db: Path) -> float:
    """The CSV parsed and every row written by one executemany, in one transaction."""
    t = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        cols = ", ".join(header)
        conn.execute(f"CREATE TABLE lead (id INTEGER PRIMARY KEY, {cols})")
        conn.execute("CREATE UNIQUE INDEX ix_ext ON lead (external_id)")
        conn.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" * len(header))
        conn.executemany(f"INSERT INTO lead ({cols}) VALUES ({marks})", reader)
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t


def _fresh(tmp: Path, n: int) -> str:
    d = tmp / f"db{n}"
    d.mkdir(mode=0o700)
    url = f"sqlite:///{d / 'server.db'}"
    backend = Backend.open(url)
    backend.add_user(REP, None, "rep")
    backend.add_user(OTHER, None, "rep")
    backend.close()
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", type=Path, help="also write cProfile files of one run here")
    args = ap.parse_args()
    print(f"import_big: {args.rows:,} rows, median of {args.runs}; {load_average()}")
    target = 10.0 * args.rows / 100_000
    triage = [sys.executable, "-m", "triage", "server", "import"]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        big = tmp / "big.csv"
        _write_csv(big, args.rows)
        first, again, dry, rss, floors, bare_rss = [], [], [], [], [], []
        for n in range(args.runs):
            floors.append(_floor(big, tmp / f"floor{n}.db"))
            bare_rss.append(_run([sys.executable, "-c", "import triage.server.service"])[1])
            url = _fresh(tmp, n)
            took, peak, out = _run([*triage, str(big), "--db", url])
            assert f"{args.rows} created" in out, out
            first.append(took)
            rss.append(peak)
            took, peak, out = _run([*triage, str(big), "--db", url])
            assert f"{args.rows} unchanged" in out, out
            again.append(took)
            rss.append(peak)
            took, peak, out = _run([*triage, str(big), "--db", url, "--dry-run"])
            assert f"{args.rows} unchanged" in out, out
            dry.append(took)
            rss.append(peak)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            url = _fresh(tmp, args.runs)
            prof = [sys.executable, "-m", "cProfile", "-o"]
            for name in ("first", "again"):
                out_file = str(args.profile / f"import_{name}.prof")
                _run([*prof, out_file, "-m", "triage", "server", "import", str(big), "--db", url])
    report(f"import of {args.rows:,} new rows (CLI process)", median(first), target)
    baseline("csv parse + one sqlite executemany, same rows", median(floors), median(first))
    report(f"the same {args.rows:,} rows again (unchanged)", median(again), target)
    report("its dry run", median(dry), target)
    report("peak RSS of any import process", max(rss), 250, unit="MB")
    baseline("peak RSS of `import triage.server.service`", median(bare_rss), max(rss), unit="MB")
    print(f"  {load_average()} (at the end)")


if __name__ == "__main__":
    main()
