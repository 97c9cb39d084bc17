"""The queue's filter language."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from triage.domain.accounts import company_key
from triage.domain.attributes import attribute_key
from triage.domain.lead import BANT_KEYS, Answer, Status
from triage.domain.text import fold


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed queue filter. Every part must hold (AND)."""

    text: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    campaign: tuple[str, ...] = ()
    score_lt: int | None = None
    score_gt: int | None = None
    bant: tuple[tuple[str, str], ...] = ()
    age_gt_hours: float | None = None
    age_lt_hours: float | None = None
    status: tuple[str, ...] = ()
    # (attribute key, folded value as domain.attribute_text writes it; None: has the key)
    attributes: tuple[tuple[str, str | None], ...] = ()
    account: tuple[str, ...] = ()  # account keys (domain.account_key); any of them
    errors: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Filter()


_DURATION = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)([hdw]?)$", re.ASCII)
_UNITS = {"": 1.0, "h": 1.0, "d": 24.0, "w": 168.0}
_MAX_AGE_HOURS = 100 * 366 * 24.0
FILTER_KEYS = ("source", "campaign", "score", "bant", "age", "status", "attr", "account")
_FILTER_KEY = re.compile(r"^[a-z_]+$")


def parse_filter(query: str) -> Filter:
    """Parse the filter language of the queue.

    Free words match name, company, title, email, campaign and source, with case and
    accents folded (domain.fold); tokens: `source:webinar`, `campaign:q3-launch`,
    `score:<20`, `score:>70` (0 to 100; a lead with no score matches neither),
    `bant:budget=no`, `age:>24h` (h, d, w, on the SLA clock), `status:open`,
    `attr:segment=retail` (an attribute, its value folded; `attr:segment`: has it),
    `account:cobalt.com` (the leads of one account: domain.account_key; a company's
    name as `account:cobalt-insurance`). Unknown keys and malformed or out-of-range tokens are
    reported in `errors` and otherwise ignored, so typing never fails.
    """
    parts: dict[str, Any] = {"text": [], "source": [], "campaign": [], "status": [],
                             "bant": [], "attributes": [], "account": [],
                             "errors": []}  # fmt: skip
    for token in query.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if not sep or not _FILTER_KEY.match(key):
            parts["text"].append(fold(token))  # a word; also "10:30" or "http://..."
        elif key not in FILTER_KEYS:
            known = ", ".join(f"{k}:" for k in FILTER_KEYS)
            parts["errors"].append(f"{key}: is not a filter (known: {known})")
        elif value:  # (an empty value is still being typed)
            error = _TOKENS[key](value, parts)
            if error:
                parts["errors"].append(f"{key}:{value}: {error}")
    return Filter(**{k: tuple(v) if isinstance(v, list) else v for k, v in parts.items()})


def _source(value: str, parts: dict[str, Any]) -> str | None:
    parts["source"].append(fold(value))
    return None


def _campaign(value: str, parts: dict[str, Any]) -> str | None:
    parts["campaign"].append(fold(value))
    return None


def _status(value: str, parts: dict[str, Any]) -> str | None:
    if value.lower() not in {s.value for s in Status}:
        return "use open, accepted, rejected or nurture"
    parts["status"].append(value.lower())
    return None


def _score(value: str, parts: dict[str, Any]) -> str | None:
    op, num = value[:1], value[1:]
    digits = num if op in "<>" else value
    if not (digits.isascii() and digits.isdigit()):
        return "use score:<N or score:>N"
    if len(digits) > 3 or int(digits) > 100:
        return "a score is between 0 and 100"
    if op == "<":
        parts["score_lt"] = int(num)
    elif op == ">":
        parts["score_gt"] = int(num)
    else:
        parts["score_gt"], parts["score_lt"] = int(value) - 1, int(value) + 1
    return None


def _bant(value: str, parts: dict[str, Any]) -> str | None:
    k, eq, v = value.lower().partition("=")
    if not (eq and k in BANT_KEYS and v in {a.value for a in Answer}):
        return "use bant:KEY=yes|no|unknown"
    parts["bant"].append((k, v))
    return None


def _age(value: str, parts: dict[str, Any]) -> str | None:
    op, rest = value[:1], value[1:].lower()
    m = _DURATION.match(rest)
    hours = float(m.group(1)) * _UNITS[m.group(2)] if op in "<>" and m else None
    if hours is None:
        return "use age:>24h or age:<3d"
    if hours > _MAX_AGE_HOURS:
        return "at most 100 years"
    parts["age_gt_hours" if op == ">" else "age_lt_hours"] = hours
    return None


def _attr(value: str, parts: dict[str, Any]) -> str | None:
    name, eq, wanted = value.partition("=")
    key = attribute_key(name)
    if not key or (eq and not wanted):
        return "use attr:KEY=VALUE or attr:KEY"
    parts["attributes"].append((key, fold(wanted) if eq else None))
    return None


_DOMAIN = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.ASCII)


def _account(value: str, parts: dict[str, Any]) -> str | None:
    key = value.lower() if _DOMAIN.match(value.lower()) else company_key(value)
    if not key:
        return "use account:DOMAIN or account:company-name"
    parts["account"].append(key)
    return None


_TOKENS: dict[str, Callable[[str, dict[str, Any]], str | None]] = {
    "source": _source, "campaign": _campaign, "status": _status, "score": _score,
    "bant": _bant, "age": _age, "attr": _attr, "account": _account,
}  # fmt: skip
