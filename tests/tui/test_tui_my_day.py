"""My day (`t`): what the rep decided today and this week, the pace, what is left; from
the local store only. Decisions are dated here by rewriting the journal's times."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from tests.support.tui import NOW, open_ids
from triage import domain
from triage.screens.day import MyDayScreen, summary

SIZE = (80, 24)


def _dated(store, action_id: str, when) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE actions SET created_at = ? WHERE action_id = ?", (when.timestamp(), action_id)
        )


def _a_day(store) -> list[str]:
    """Today: accept 2 (bulk) at 9:00, reject at 9:01, nurture at 9:03, then a break,
    accept at 10:00; yesterday: reject 1; and an undone accept today (not counted)."""
    ids = open_ids(store)
    day = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    plan = [
        (ids[0:2], "accept", {}, day + timedelta(hours=9)),
        (ids[2:3], "reject", {"reason": "no_budget"}, day + timedelta(hours=9, minutes=1)),
        (ids[3:4], "nurture", {"reason": "timing_later"}, day + timedelta(hours=9, minutes=3)),
        (ids[4:5], "accept", {}, day + timedelta(hours=10)),
        (ids[5:6], "reject", {"reason": "no_budget"}, day - timedelta(hours=3)),
    ]
    for lead_ids, outcome, kw, when in plan:
        _dated(store, store.decide(lead_ids, outcome, at=NOW, **kw).action_id, when)
    undone = store.decide(ids[6:7], "accept", at=NOW)
    _dated(store, undone.action_id, day + timedelta(hours=10, minutes=5))
    assert store.undo().action_id == undone.action_id
    return ids


def test_the_day_counts_what_the_rep_decided_and_what_is_left(store) -> None:
    ids = _a_day(store)
    now = NOW.replace(hour=11, minute=30)
    day = store.my_day(now)
    assert day.today == {"accept": 3, "reject": 1, "nurture": 1}
    yesterday_in_week = NOW.weekday() > 0
    assert day.decided_this_week == 5 + (1 if yesterday_in_week else 0)
    assert day.by_hour[9] == 4 and day.by_hour[10] == 1 and len(day.by_hour) == 12
    assert sum(day.by_hour) == 5
    assert day.pace == 90  # gaps of 60 s and 120 s; the hour before 10:00 is a break
    assert day.open == len(ids) - 6
    sla = store.policy().sla_hours
    past = domain.parse_filter(f"age:>{sla:g}h")
    assert day.breached == len(store.queue_ids(past, "sla", now=now))
    lines = dict(summary(day, sla))
    assert lines["Today"] == "5 leads decided: 3 accepted · 1 rejected · 1 to nurture"
    assert lines["Pace"].startswith("1.5 min a decision")


async def test_t_opens_my_day_and_escape_closes_it(app, store) -> None:
    _a_day(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        assert isinstance(app.screen, MyDayScreen)
        text = " ".join(str(s.render()) for s in app.screen.query(".day-line"))
        assert "Today      5 leads decided: 3 accepted · 1 rejected · 1 to nurture" in text
        assert "open leads" in text
        await pilot.press("t")  # t again, or escape: closed
        assert not isinstance(app.screen, MyDayScreen)
        await pilot.press("t", "escape")
        assert not isinstance(app.screen, MyDayScreen)
