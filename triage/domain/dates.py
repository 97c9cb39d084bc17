"""Times, the SLA clock and nurture re-entry dates: one rule each, for every side."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(value: Any) -> datetime:
    """An RFC 3339 / ISO 8601 time as an aware UTC datetime (naive means UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if len(text) == 10:  # a bare date
            dt = datetime.fromisoformat(text + "T00:00:00")
        else:
            dt = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    else:
        raise ValueError(f"not a time: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"time out of range: {value!r}") from None


def format_time(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def age_hours(mql_at: datetime | None, now: datetime | None = None) -> float:
    if mql_at is None:
        return 0.0
    return ((now or utcnow()) - mql_at).total_seconds() / 3600.0


def clamp_time(at: datetime, low: datetime | None, high: datetime) -> datetime:
    """The rep's clock is not trusted: keep `at` within [low, high] for reports."""
    if low is not None and at < low:
        at = low
    return min(at, high)


# ---------------------------------------------------------------- the SLA clock


def sla_start(assigned_at: datetime | None, mql_at: datetime | None) -> datetime | None:
    """When a lead's SLA clock started: its assignment, else its MQL time (one rule for
    the TUI, the CLI, reports and the workspace)."""
    return assigned_at if assigned_at is not None else mql_at


def sla_level(hours: float, sla_hours: float) -> str:
    """fresh (< 50% of the SLA), due (< 100%), late (past it), very-late (past 2x)."""
    ratio = hours / sla_hours if sla_hours > 0 else 0.0
    if ratio < 0.5:
        return "fresh"
    if ratio < 1.0:
        return "due"
    if ratio < 2.0:
        return "late"
    return "very-late"


def past_sla(hours: float, sla_hours: float) -> bool:
    return sla_level(hours, sla_hours) in ("late", "very-late")


# ---------------------------------------------------------------- nurture re-entry dates

NURTURE_DATE_FORMS = (
    "a date like 2027-03-01, +30d, +6w, +3m, +1y, or words: tomorrow, next monday, "
    "in 3 weeks, next month, march, 15 march, Q2"
)
NURTURE_TOLERANCE = timedelta(days=1)
_RELATIVE = re.compile(r"^\+(\d{1,4})([dwmy])$")
_IN = re.compile(r"^in (a|an|one|\d{1,4}) (day|week|month|quarter|year)s?$")
_QUARTER = re.compile(r"^q([1-4])(?: (\d{4}))?$")
_DAY_MONTH = re.compile(r"^(?:(\d{1,2}) ([a-z]+)|([a-z]+) (\d{1,2}))$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")  # fmt: skip


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _named(word: str, names: tuple[str, ...]) -> int | None:
    """The index of a weekday or month named in full or by its first three letters or more
    (`wed`, `sept`)."""
    if len(word) < 3:
        return None
    found = [i for i, name in enumerate(names) if name.startswith(word)]
    return found[0] if len(found) == 1 else None


def _next_day_of_month(today: date, month: int, day: int) -> date:
    """`day` of `month`, the first such date after today (ValueError: no such day)."""
    found = date(today.year, month + 1, day)
    return found if found > today else date(today.year + 1, month + 1, day)


def _words(value: str, today: date) -> date | None:
    """A date in the words a rep types (English only, a small fixed grammar: no library to
    load, nothing to guess), the first such date after today; None when not understood.
    A weekday or month named alone, or after "next", is the next one to come; a quarter
    (Q2) is its first day; "next week" is next Monday."""
    words = value.removeprefix("next ").strip() if value.startswith("next ") else value
    if value == "tomorrow":
        return today + timedelta(days=1)
    if value == "next week":
        return today + timedelta(days=7 - today.weekday())
    if value in ("next month", "next quarter", "next year"):
        step = {"next month": 1, "next quarter": 3, "next year": 12}[value]
        first = date(today.year, 1 if step == 12 else today.month - (today.month - 1) % step, 1)
        return _add_months(first, step)
    if (m := _IN.match(value)) is not None:
        n = 1 if m.group(1) in ("a", "an", "one") else int(m.group(1))
        unit = m.group(2)
        if unit in ("day", "week"):
            return today + timedelta(days=n * (1 if unit == "day" else 7))
        return _add_months(today, n * {"month": 1, "quarter": 3, "year": 12}[unit])
    if (m := _QUARTER.match(words)) is not None:
        first = date(int(m.group(2) or today.year), 3 * int(m.group(1)) - 2, 1)
        return first if m.group(2) or first > today else date(first.year + 1, first.month, 1)
    if (weekday := _named(words, _WEEKDAYS)) is not None:
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if (month := _named(words, _MONTHS)) is not None:
        return _next_day_of_month(today, month, 1)
    if (m := _DAY_MONTH.match(words)) is not None:
        day, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        month = _named(name, _MONTHS)
        return None if month is None else _next_day_of_month(today, month, int(day))
    return None


def parse_nurture_until(text: str, today: date) -> date:
    """When marketing may bring a nurtured lead back: an ISO date, `+30d`, `+6w`, `+3m`,
    `+1y`, or words (tomorrow, next monday, in 3 weeks, next month, march, 15 march, Q2),
    counted from `today` (the rep's local date). Only a date after today; ValueError with a
    sentence otherwise. The CLI and the TUI both use this."""
    value = " ".join(text.strip().lower().split())
    m = _RELATIVE.match(value)
    try:
        if m:
            n, unit = int(m.group(1)), m.group(2)
            if unit in "dw":
                found = today + timedelta(days=n if unit == "d" else 7 * n)
            else:
                found = _add_months(today, n if unit == "m" else 12 * n)
        else:
            found = _words(value, today) or date.fromisoformat(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{text.strip()!r} is not a date: use {NURTURE_DATE_FORMS}") from None
    if found <= today:
        raise ValueError(f"{found.isoformat()} is not after today ({today.isoformat()})")
    return found


def nurture_until_error(until: date | None, decided_at: datetime) -> str | None:
    """The server's check of a pushed re-entry date: `bad_nurture_until` for a date before
    the decision's own date (its time as clamped, in UTC) with one day of tolerance, so a
    rep who nurtures "until tomorrow" on a plane and lands three days later is not refused."""
    if until is None:
        return None
    if until < decided_at.astimezone(timezone.utc).date() - NURTURE_TOLERANCE:
        return "bad_nurture_until"
    return None
