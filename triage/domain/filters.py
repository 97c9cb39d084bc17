"""The queue's filter language."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    errors: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Filter()


_DURATION = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)([hdw]?)$", re.ASCII)
_UNITS = {"": 1.0, "h": 1.0, "d": 24.0, "w": 168.0}
_MAX_AGE_HOURS = 100 * 366 * 24.0
FILTER_KEYS = ("source", "campaign", "score", "bant", "age", "status")
_FILTER_KEY = re.compile(r"^[a-z_]+$")


def parse_filter(query: str) -> Filter:
    """Parse the filter language of the queue.

    Free words match name, company, title, email, campaign and source, with case and
    accents folded (domain.fold); tokens: `source:webinar`, `campaign:q3-launch`,
    `score:<20`, `score:>70` (0 to 100), `bant:budget=no`, `age:>24h` (h, d, w, on the
    SLA clock), `status:open`. Unknown keys and malformed or out-of-range tokens are
    reported in `errors` and otherwise ignored, so typing never fails.
    """
    text: list[str] = []
    source: list[str] = []
    campaign: list[str] = []
    status: list[str] = []
    bant: list[tuple[str, str]] = []
    errors: list[str] = []
    score_lt = score_gt = None
    age_gt = age_lt = None
    for token in query.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if not sep or not _FILTER_KEY.match(key):
            text.append(fold(token))  # a word; also "10:30" or "http://..."
            continue
        if key not in FILTER_KEYS:
            known = ", ".join(f"{k}:" for k in FILTER_KEYS)
            errors.append(f"{key}: is not a filter (known: {known})")
            continue
        if not value:
            continue  # still being typed
        if key == "source":
            source.append(fold(value))
        elif key == "campaign":
            campaign.append(fold(value))
        elif key == "status":
            if value.lower() in {s.value for s in Status}:
                status.append(value.lower())
            else:
                errors.append(f"status:{value}: use open, accepted, rejected or nurture")
        elif key == "score":
            op, num = value[:1], value[1:]
            digits = num if op in "<>" else value
            if not (digits.isascii() and digits.isdigit()):
                errors.append(f"score:{value}: use score:<N or score:>N")
            elif len(digits) > 3 or int(digits) > 100:
                errors.append(f"score:{value}: a score is between 0 and 100")
            elif op == "<":
                score_lt = int(num)
            elif op == ">":
                score_gt = int(num)
            else:
                score_gt, score_lt = int(value) - 1, int(value) + 1
        elif key == "bant":
            k, eq, v = value.lower().partition("=")
            if eq and k in BANT_KEYS and v in {a.value for a in Answer}:
                bant.append((k, v))
            else:
                errors.append(f"bant:{value}: use bant:KEY=yes|no|unknown")
        elif key == "age":
            op, rest = value[:1], value[1:].lower()
            m = _DURATION.match(rest)
            hours = float(m.group(1)) * _UNITS[m.group(2)] if op in "<>" and m else None
            if hours is None:
                errors.append(f"age:{value}: use age:>24h or age:<3d")
            elif hours > _MAX_AGE_HOURS:
                errors.append(f"age:{value}: at most 100 years")
            elif op == ">":
                age_gt = hours
            else:
                age_lt = hours
    return Filter(
        tuple(text), tuple(source), tuple(campaign), score_lt, score_gt, tuple(bant),
        age_gt, age_lt, tuple(status), tuple(errors),
    )  # fmt: skip
