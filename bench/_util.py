"""Small helpers the benchmarks share: medians, percentiles, the machine's load, a printed
figure beside its target, and a baseline measured in the same run with the ratio to it."""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def load_average() -> str:
    return (
        "load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f" ({os.cpu_count()} cores)"
    )


def _shown(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":  # a ratio
        return f"{value:.3f} x"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def report(
    label: str, value: float, target: float, unit: str = "s", lower_is_better: bool = True
) -> bool:
    ok = value <= target if lower_is_better else value >= target
    goal = (
        f"{target * 1000:.0f} ms"
        if unit == "ms"
        else f"{target:g} s"
        if unit == "s"
        else f"{target:,g} {unit}"
    )
    sign = "<=" if lower_is_better else ">="
    print(
        f"  {label:<46} {_shown(value, unit):>14}   target {sign} {goal:<12} "
        f"{'ok' if ok else 'MISSED'}"
    )
    return ok


def baseline(label: str, value: float, figure: float | None = None, unit: str = "s") -> None:
    """A baseline measured in the same run; with `figure`, the figure's ratio to it (what a
    loaded machine changes least)."""
    ratio = f"   figure = {figure / value:.1f} x this" if figure is not None and value > 0 else ""
    print(f"    baseline: {label} {_shown(value, unit)}{ratio}")


def bare_sqlite_rows(rows: list[tuple[str, str]], runs: int = 3) -> float:
    """The floor under any sync of these rows: (id, JSON text) decoded and encoded again by
    the json module and written by one executemany in one transaction (WAL,
    synchronous=FULL), into a fresh file. Median of `runs`."""
    times = []
    with tempfile.TemporaryDirectory() as d:
        for r in range(runs):
            conn = sqlite3.connect(Path(d) / f"bare{r}.db", isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, json TEXT NOT NULL)")
            t = time.perf_counter()
            again = [(i, json.dumps(json.loads(text))) for i, text in rows]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO t VALUES (?, ?)", again)
            conn.execute("COMMIT")
            times.append(time.perf_counter() - t)
            conn.close()
    return median(times)
