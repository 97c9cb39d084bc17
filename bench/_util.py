"""Small helpers the benchmarks share: medians, percentiles, and a printed figure beside its target."""

from __future__ import annotations

import statistics


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def report(
    label: str, value: float, target: float, unit: str = "s", lower_is_better: bool = True
) -> bool:
    ok = value <= target if lower_is_better else value >= target
    shown = (
        f"{value * 1000:.1f} ms"
        if unit == "ms"
        else f"{value:.3f} s"
        if unit == "s"
        else f"{value:.1f} {unit}"
    )
    goal = (
        f"{target * 1000:.0f} ms"
        if unit == "ms"
        else f"{target:g} s"
        if unit == "s"
        else f"{target:g} {unit}"
    )
    print(f"  {label:<46} {shown:>12}   target <= {goal:<8} {'ok' if ok else 'MISSED'}")
    return ok
