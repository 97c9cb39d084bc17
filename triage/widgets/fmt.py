"""Small text helpers the screens and widgets share (ages, SLA levels, BANT glyphs)."""

from __future__ import annotations

from datetime import datetime

from triage import domain

BANT_GLYPHS = {"yes": "✓", "no": "✗", "unknown": "·"}

OUTCOME_PAST = {"accept": "Accepted", "reject": "Rejected", "nurture": "Nurtured"}


def bant_glyph(answer: str | None) -> str:
    return BANT_GLYPHS.get(answer or "unknown", "·")


def age_text(hours: float) -> str:
    """A compact age: 45m, 26h, 12d."""
    if hours < 1:
        return f"{max(0, int(hours * 60))}m"
    if hours < 72:
        return f"{int(hours)}h"
    return f"{int(hours // 24)}d"


SLA_FLAG = {"fresh": "", "due": "", "late": " !", "very-late": " !!"}
SLA_WORDS = {
    "fresh": "within the {h}h SLA",
    "due": "{h}h SLA due soon",
    "late": "past the {h}h SLA",
    "very-late": "past 2× the {h}h SLA",
}


def age_vs_sla(started: datetime | None, now: datetime, sla_hours: float) -> tuple[str, str]:
    """("26h !", level) for a lead whose SLA clock started at `started` (domain.sla_start)."""
    if started is None:
        return "–", "fresh"
    hours = domain.age_hours(started, now)
    level = domain.sla_level(hours, sla_hours)
    return age_text(hours) + SLA_FLAG[level], level


def ago(then: datetime | None, now: datetime) -> str:
    """'just now', '2 min ago', '3 h ago', '2 days ago'."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def reason_label(policy: domain.Policy | None, outcome: object, code: object) -> str:
    """The policy's label of a reason code ("Not a decision maker"); the code if unknown."""
    try:
        reason = policy.reason(str(outcome), str(code)) if policy is not None else None
    except ValueError:
        reason = None
    if reason is not None:
        return reason.label
    return "" if code is None else str(code)


SUGGESTION_GLYPHS = {"accept": "✓", "reject": "✗", "nurture": "↺"}
# The default reasons' short forms in the queue's narrow column; any other code: its first
# word that says something (past "no", "not", "bad"), cut to four letters.
_SHORT_REASONS = {
    "no_budget": "budg", "not_decision_maker": "auth", "no_need": "need", "not_icp_fit": "icp",
    "bad_contact_data": "data", "duplicate": "dup", "existing_customer": "cust",
    "competitor_or_partner": "comp", "spam_or_student": "spam", "other": "othr",
    "timing_later": "time", "early_research": "rsch", "no_response": "resp",
    "budget_next_cycle": "budg",
}  # fmt: skip


def short_reason(code: str) -> str:
    known = _SHORT_REASONS.get(code)
    if known is not None:
        return known
    words = [w for w in code.replace("-", "_").split("_") if w]
    telling = [w for w in words if w not in ("no", "not", "bad", "or")] or words or [code]
    return telling[0][:4]


def suggestion_cell(x: domain.Suggestion | None, shows: domain.Suggestions) -> str:
    """The queue's narrow form of a suggestion, readable without colour: "✓82" (accept,
    82%), "✗91 icp" (reject, not our ideal customer profile, 91%); "" when there is none or
    the policy does not show it (turned off, below its threshold)."""
    if x is None or not shows.shows(x.confidence):
        return ""
    percent = min(99, round(x.confidence * 100))
    text = f"{SUGGESTION_GLYPHS.get(x.outcome.value, '?')}{percent:02d}"
    return f"{text} {short_reason(x.reason)}" if x.reason else text
