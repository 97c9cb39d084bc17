"""Charts as server-side SVG: readable without hovering (every value is written on the
chart, and the page shows the same numbers in a table), in a palette whose every colour
has at least 3:1 contrast against the page's background (tests check it)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import NamedTuple

BACKGROUND = "#ffffff"
INK = "#1f2328"
MUTED = "#59636e"
GRID = "#d1d9e0"
# Outcomes and series: each >= 3:1 against BACKGROUND (WCAG 1.4.11, graphics).
PALETTE = {
    "accepted": "#1a7f37",
    "rejected": "#cf222e",
    "nurtured": "#8a5a00",
    "open": "#59636e",
    "volume": "#0b61c4",
    "rate": "#6e40c9",
    "received": "#0b61c4",
}


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _t(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12,
       fill: str = INK, weight: str = "normal", halo: bool = False) -> str:  # fmt: skip
    """A text; `halo`: outlined in the background colour, readable over bars and lines."""
    outline = f' stroke="{BACKGROUND}" stroke-width="3" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}"{outline}>{escape(text)}</text>'
    )


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    kind = "chart wide" if width > 600 else "chart"  # a wide one scrolls on a phone
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="{kind}" '
        f'font-family="system-ui, sans-serif"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def stacked_bars(
    title: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    *,
    note: Sequence[str] | None = None,
    width: int = 760,
) -> str:
    """Horizontal bars, one per row, stacked by series, each segment labelled with its
    count when it fits and the total written after the bar. `note`: a text per row
    written after the total (e.g. the acceptance rate)."""
    if not rows:
        return ""
    label_w = min(width // 3, max(80, 7 * max(len(r[0]) for r in rows) + 10))
    series = [name for name, _ in rows[0][1]]
    top = 30 if len(series) > 1 else 6  # one series: the title says what it is
    bar_h, gap = 22, 10
    plot_w = width - label_w - (150 if note else 50)
    biggest = max((sum(v for _, v in segs) for _, segs in rows), default=0) or 1
    body = []
    x = label_w
    for name in series if len(series) > 1 else ():  # legend
        body.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{PALETTE[name]}"/>')
        body.append(_t(x + 16, 16, name, size=12))
        x += 16 + 8 * len(name) + 18
    for i, (label, segs) in enumerate(rows):
        y = top + i * (bar_h + gap)
        most = max(8, (label_w - 10) // 7)
        short = label if len(label) <= most else label[: most - 1] + "…"
        body.append(_t(label_w - 8, y + bar_h / 2 + 4, short, anchor="end"))
        x = float(label_w)
        total = 0
        for name, value in segs:
            w = plot_w * value / biggest
            total += value
            if value:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" '
                    f'fill="{PALETTE[name]}"><title>{escape(f"{label}: {name} {value}")}</title></rect>'
                )
                if w >= 9 * len(str(value)) + 6:
                    body.append(_t(x + w / 2, y + bar_h / 2 + 4, str(value), anchor="middle",
                                   fill="#ffffff", weight="bold"))  # fmt: skip
            x += w
        extra = f"  {note[i]}" if note else ""
        body.append(_t(x + 6, y + bar_h / 2 + 4, f"{total}{extra}", fill=INK))
    height = top + len(rows) * (bar_h + gap)
    return _svg(width, height, title, body)


def bars(title: str, rows: Sequence[tuple[str, int]], colour: str, *, width: int = 760) -> str:
    """Horizontal bars of one series, each with its value written after it."""
    if not rows:
        return ""
    return stacked_bars(title, [(label, [(colour, value)]) for label, value in rows], width=width)


class _Plot(NamedTuple):
    """Where a chart's data goes inside its SVG: the left and top edges, width, height."""

    left: float
    top: float
    w: float
    h: float


def trend(title: str, weeks: Sequence[dict], *, width: int = 760) -> str:
    """Weekly columns of decisions (stacked by outcome) with MQLs received written above,
    and the acceptance rate as a line on its own 0-100% scale, every value written."""
    if not weeks:
        return ""
    height, left, right, top, bottom = 300, 44, 48, 40, 56
    plot = _Plot(left, top, width - left - right, height - top - bottom)
    biggest = max([max(w["decided"], w["mqls_received"]) for w in weeks] + [1])
    small = plot.w / len(weeks) < 34  # narrow weeks: every other one labelled
    body = _trend_legend(left)
    body += _trend_scales(plot, biggest)
    columns, points = _weekly_columns(plot, weeks, biggest, small)
    body += columns
    body += _rate_line(points, small)
    body.append(_t(left, height - 8, "decisions per ISO week (Monday to Sunday); the "
                   "number above each column is the week's decisions", size=11, fill=MUTED))  # fmt: skip
    return _svg(width, height, title, body)


def _trend_legend(left: float) -> list[str]:
    legend = [("accepted", "accepted"), ("rejected", "rejected"), ("nurtured", "nurtured"),
              ("rate", "acceptance rate (line, right scale)")]  # fmt: skip
    body = []
    x = left
    for key, text in legend:
        body.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{PALETTE[key]}"/>')
        body.append(_t(x + 16, 18, text))
        x += 16 + 7 * len(text) + 16
    return body


def _trend_scales(plot: _Plot, biggest: int) -> list[str]:
    """Grid lines at 0, half and full: counts on the left, the rate's % on the right."""
    body = []
    for frac in (0, 0.5, 1):
        y = plot.top + plot.h * (1 - frac)
        body.append(f'<line x1="{plot.left}" x2="{plot.left + plot.w}" y1="{y:.1f}" '
                    f'y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')  # fmt: skip
        body.append(_t(plot.left - 6, y + 4, f"{round(biggest * frac)}", anchor="end",
                       fill=MUTED, size=11))  # fmt: skip
        body.append(_t(plot.left + plot.w + 6, y + 4, f"{int(frac * 100)}%", fill=MUTED, size=11))
    return body


def _weekly_columns(
    plot: _Plot, weeks: Sequence[dict], biggest: int, small: bool
) -> tuple[list[str], list[tuple[float, float, float]]]:
    """A column per week stacked by outcome, its decisions written above and its week
    below; and the points (x, y, rate) of the acceptance rate's line."""
    step = plot.w / len(weeks)
    col_w = max(4.0, min(40.0, step * 0.6))
    body = []
    points = []
    for i, w in enumerate(weeks):
        cx = plot.left + step * i + step / 2
        y = plot.top + plot.h
        for key, field in (("accepted", "accepted"), ("rejected", "rejected"),
                           ("nurtured", "nurtured")):  # fmt: skip
            h = plot.h * w[field] / biggest
            if h > 0:
                body.append(
                    f'<rect x="{cx - col_w / 2:.1f}" y="{y - h:.1f}" width="{col_w:.1f}" '
                    f'height="{h:.1f}" fill="{PALETTE[key]}"><title>{escape(w["week"])}: '
                    f"{key} {w[field]}</title></rect>"
                )
            y -= h
        if not small or i % 2 == 0:
            body.append(_t(cx, y - 4, str(w["decided"]), anchor="middle", size=11, halo=True))
            label = w["week"].split("-")[1] if small else w["week"]
            body.append(_t(cx, plot.top + plot.h + 16, label, anchor="middle", size=11,
                           fill=MUTED))  # fmt: skip
        rate = w["acceptance_rate"]
        if rate is not None:
            points.append((cx, plot.top + plot.h * (1 - rate), rate))
    return body, points


def _rate_line(points: list[tuple[float, float, float]], small: bool) -> list[str]:
    """The acceptance rate: a line through the weeks that have one, each point written."""
    body = []
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE["rate"]}" '
                    f'stroke-width="2.5"/>')  # fmt: skip
    for i, (x, y, rate) in enumerate(points):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{PALETTE["rate"]}"/>')
        if not small or i % 2 == 0:
            body.append(_t(x + 6, y - 7, _pct(rate), anchor="start", size=11,
                           fill=PALETTE["rate"], weight="bold", halo=True))  # fmt: skip
    return body
