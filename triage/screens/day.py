"""My day: what the rep decided today and this week, at what pace, and what is left.

From the local store only (the journal and the queue): it opens at once, online or not.
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Sparkline, Static

from triage.store import MyDay, Store
from triage.widgets.fmt import plural

_OUTCOMES = (("accept", "accepted"), ("reject", "rejected"), ("nurture", "to nurture"))
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def _counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "nothing decided yet"
    parts = [f"{counts[o]} {word}" for o, word in _OUTCOMES if counts.get(o)]
    return f"{plural(total, 'lead')} decided: " + " · ".join(parts)


def _pace(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s a decision"
    return f"{seconds / 60:.1f} min a decision"


def summary(day: MyDay, sla_hours: float) -> list[tuple[str, str]]:
    """The screen's lines as (label, text): what a test and the screen both read."""
    left = f"{plural(day.open, 'open lead')}"
    if day.breached:
        left += f" · {day.breached} past the {sla_hours:g} h SLA"
    if day.due_today:
        left += f" · {day.due_today} reach it before midnight"
    return [
        ("Today", _counts(day.today)),
        ("Pace", _pace(day.pace) + " (gaps over 15 min are breaks)"),
        ("This week", _counts(day.week)),
        ("Left", left),
    ]


class MyDayScreen(ModalScreen[None]):
    """Today, this week, the pace and what is left, with two small charts."""

    HELP_TITLE = "My day"
    BINDINGS = [
        Binding("escape,t,q", "close", "Close", id="close_day", tooltip="Close my day"),
    ]  # fmt: skip

    def __init__(self, day: MyDay, now: datetime, sla_hours: float) -> None:
        super().__init__(id="my-day")
        self.day = day
        self.now = now
        self.sla_hours = sla_hours

    @classmethod
    def of(cls, store: Store, now: datetime, sla_hours: float) -> MyDayScreen:
        """The rep's day in this machine's time zone, from the store, as of `now`."""
        local = now.astimezone()
        return cls(store.my_day(local), local, sla_hours)

    def compose(self) -> ComposeResult:
        day = self.day
        with Vertical(id="day-body", classes="dialog"):
            yield Static(
                Content.assemble(
                    ("My day", "bold"),
                    (f" · {self.now:%A %-d %B, %H:%M}", "$text-muted"),
                    ("    escape closes this", "$text-muted"),
                ),
                id="day-title",
            )
            for label, text in summary(day, self.sla_hours):
                yield Static(Content.assemble((f"{label:<10} ", "bold"), text), classes="day-line")
            hours = day.by_hour + [0] * (24 - len(day.by_hour))  # the whole day, to come too
            yield Static(
                Content(f"Leads decided each hour today, 0:00 to 23:00 (busiest: {max(hours)})"),
                classes="day-chart-title",
            )
            yield Sparkline(hours, summary_function=max, id="day-hours")
            week = day.by_day + [0] * (7 - len(day.by_day))
            days = "  ".join(f"{d} {n}" for d, n in zip(_DAYS, day.by_day, strict=False))
            yield Static(Content(f"Each day this week: {days}"), classes="day-chart-title")
            yield Sparkline(week, summary_function=max, id="day-week")

    def action_close(self) -> None:
        if self.is_active:
            self.dismiss()
