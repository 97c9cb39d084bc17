"""The rep's day: what they decided today and this week, at what pace, and what is left.

Read from the undo journal (every decision made on this device, undone ones left out, and
those the server refused) and the queue; nothing here needs the network.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triage.store.common import _REFUSED

BREAK = 15 * 60  # seconds: a longer gap between two decisions is a break, not work


@dataclass(frozen=True)
class MyDay:
    """Counts of leads by outcome (accept, reject, nurture)."""

    today: dict[str, int] = field(default_factory=dict)
    week: dict[str, int] = field(default_factory=dict)
    by_hour: list[int] = field(default_factory=list)  # leads decided in each hour today, to now
    by_day: list[int] = field(default_factory=list)  # leads decided each day of this week
    pace: float | None = None  # median seconds between two decisions today (breaks left out)
    open: int = 0  # what is left
    breached: int = 0  # open leads past the policy's SLA
    due_today: int = 0  # open leads whose SLA ends before midnight

    @property
    def decided_today(self) -> int:
        return sum(self.today.values())

    @property
    def decided_this_week(self) -> int:
        return sum(self.week.values())


class DayMixin:
    def my_day(self, now: datetime) -> MyDay:
        """The rep's day as of `now` (aware: its time zone is the rep's day)."""
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        monday = midnight - timedelta(days=midnight.weekday())
        start, week_start, until = midnight.timestamp(), monday.timestamp(), now.timestamp()
        marks = ",".join("?" * len(_REFUSED))
        with self._read() as conn:
            sla_hours = self._policy(conn).sla_hours
            actions = conn.execute(
                "SELECT a.created_at, a.detail, count(*) FROM actions a "
                "JOIN action_leads al ON al.action_id = a.action_id "
                "WHERE a.kind = 'decide' AND a.undone_at IS NULL AND a.created_at >= ? "
                f"AND a.created_at <= ? AND (al.result IS NULL OR al.result NOT IN ({marks})) "
                "GROUP BY a.id ORDER BY a.created_at",
                (week_start, until, *_REFUSED),
            ).fetchall()
            sla = sla_hours * 3600
            open_, breached, due = conn.execute(
                "SELECT count(*), coalesce(sum(sla_at + ? < ?), 0), "
                "coalesce(sum(sla_at + ? >= ? AND sla_at + ? < ?), 0) "
                "FROM leads WHERE status = 'open'",
                (sla, until, sla, until, sla, (midnight + timedelta(days=1)).timestamp()),
            ).fetchone()
        today: dict[str, int] = {}
        week: dict[str, int] = {}
        by_hour = [0] * (now.hour + 1)
        by_day = [0] * (now.weekday() + 1)
        times: list[float] = []
        for created_at, detail, count in actions:
            outcome = json.loads(detail)["outcome"]
            week[outcome] = week.get(outcome, 0) + count
            when = datetime.fromtimestamp(created_at, now.tzinfo)
            by_day[min((when.date() - monday.date()).days, len(by_day) - 1)] += count
            if created_at >= start:
                today[outcome] = today.get(outcome, 0) + count
                by_hour[min(when.hour, now.hour)] += count
                times.append(created_at)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b - a <= BREAK]
        return MyDay(
            today=today, week=week, by_hour=by_hour, by_day=by_day,
            pace=statistics.median(gaps) if gaps else None,
            open=open_, breached=breached, due_today=due,
        )  # fmt: skip
