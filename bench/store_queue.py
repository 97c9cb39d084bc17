"""Timings of the local store against their targets (a benchmark, not a test).

    python bench/store_queue.py [N_LEADS]

Builds a store of N leads (default 100,000) in a temporary directory and prints
the median time of the queue queries (filter + sort, first page), a bulk
decision of 10,000 leads and a single decision, each beside its target.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.factories import NOW, make_leads  # noqa: E402
from triage import domain  # noqa: E402
from triage.store import Store  # noqa: E402


def median_ms(fn: Callable[[], object], runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def line(label: str, ms: float, target_ms: float) -> None:
    mark = "ok  " if ms <= target_ms else "SLOW"
    print(f"  {mark} {label:<52} {ms:9.2f} ms   (target <= {target_ms:g} ms)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        leads = make_leads(0, n, now=NOW)
        t = time.perf_counter()
        for i in range(0, n, 1000):  # pulled in pages, like the sync engine does
            store.apply_pull(leads[i : i + 1000], [], i + 1000)
        print(f"{n} leads loaded in {time.perf_counter() - t:.2f} s (pages of 1000)")

        print("queue_page, first page of 50:")
        for query, sort in [
            ("", "sla"),
            ("", "score"),
            ("", "age"),
            ("", "name"),
            ("", "company"),
            ("source:tradeshow score:<20", "sla"),
            ("source:tradeshow score:<20", "score"),
            ("bant:budget=no age:>24h", "sla"),
            ("campaign:roadshow", "company"),
            ("acme", "sla"),
            ("hooli vp", "score"),
            ("zzz-no-match", "sla"),
            ("status:accepted", "sla"),
        ]:
            flt = domain.parse_filter(query)
            ms = median_ms(lambda flt=flt, sort=sort: store.queue_page(flt, sort, 0, 50, now=NOW))
            line(f"{query or '(no filter)'!s} / {sort}", ms, 50)
        flt = domain.parse_filter("source:tradeshow score:<20")
        line("page 100 (offset 5000), no filter / sla", median_ms(
            lambda: store.queue_page(domain.Filter(), "sla", 5000, 50, now=NOW)), 50)  # fmt: skip
        line("queue_count, source:tradeshow score:<20", median_ms(
            lambda: store.queue_count(flt, now=NOW)), 50)  # fmt: skip
        line("queue_count, no filter", median_ms(lambda: store.queue_count(domain.Filter())), 50)
        line("queue_ids, no filter (all open ids)", median_ms(
            lambda: store.queue_ids(domain.Filter(), "sla"), runs=5), 200)  # fmt: skip
        line("status()", median_ms(lambda: store.status(now=NOW)), 50)

        ids = store.queue_ids(domain.Filter(), "sla")
        t = time.perf_counter()
        store.decide(ids[:10_000], "reject", reason="not_icp_fit")
        line("decide 10,000 leads (one transaction)", (time.perf_counter() - t) * 1000, 1000)
        t = time.perf_counter()
        store.undo()
        line("undo of it", (time.perf_counter() - t) * 1000, 1000)
        singles = iter(ids[10_000:10_100])
        line("decide 1 lead (median of 50)", median_ms(
            lambda: store.decide([next(singles)], "accept"), runs=50), 10)  # fmt: skip
        t = time.perf_counter()
        store.pending(limit=500)
        line("pending(500), assigning seqs", (time.perf_counter() - t) * 1000, 100)
        store.close()
        t = time.perf_counter()
        store = Store.open(Path(tmp) / "bench.db")
        line("Store.open of the existing file", (time.perf_counter() - t) * 1000, 100)
        store.close()


if __name__ == "__main__":
    main()
