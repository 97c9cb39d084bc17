"""What the model may know of a lead: its fields as they were when it was decided.

`snapshot(lead)` keeps the fields known at triage time, and only those: never the name,
email, phone or company (who the lead is), never the status, decision, BANT answers or
history (what the rep wrote), never anything set later. It is stored with each decision
(store.py), so a later edit of the lead cannot leak into the model.

`features(snap, decided_at)` turns a snapshot into a flat dict for the model: text as
categories (`source`: "webinar"), numbers as numbers. An activity dated after the decision
is left out; so is an attribute that looks like a person's contact (an email, a phone
number, a name column) or a date (a CRM's close date is written after the decision).
Pure Python: no scikit-learn here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from triage import domain

# The lead's fields a decision's snapshot keeps (the profile marketing gave the rep).
SNAPSHOT_FIELDS = (
    "title", "industry", "company_size", "country", "source", "campaign", "score", "mql_at",
    "evidence", "activities", "attributes",
)  # fmt: skip
# Never in a snapshot or a feature: who the lead is.
PII_FIELDS = ("name", "email", "phone", "company")

_CATEGORIES = ("source", "campaign", "industry", "company_size", "country")
_MAX_TEXT = 60
_WORDS_PER_EVIDENCE = 8
_WORD = re.compile(r"[a-z0-9$€£][a-z0-9$€£.\-k]*")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,}$")
_FLAGS = frozenset({"yes", "no", "y", "n", "true", "false"})
_CONTACT_KEY = re.compile(r"(^|_)(name|email|e_mail|phone|mobile|address|street)(_|$)")

# A title's seniority: the first bucket whose words it holds (whole words, folded).
SENIORITY = (
    ("student", ("student", "intern", "trainee", "unemployed")),
    ("vp", ("vp", "svp", "evp", "vice")),  # before c_level: "Vice President"
    ("c_level", ("ceo", "cto", "cfo", "coo", "cio", "cmo", "cro", "chief", "founder",
                 "cofounder", "co-founder", "owner", "president", "partner")),
    ("director", ("director", "head")),
    ("manager", ("manager", "lead", "supervisor", "principal")),
    ("individual", ("engineer", "analyst", "specialist", "developer", "consultant",
                    "associate", "coordinator", "administrator", "professional")),
)  # fmt: skip


@lru_cache(maxsize=4096)
def seniority(title: str | None) -> str | None:
    """The seniority bucket of a job title (student, c_level, vp, director, manager,
    individual, other), None without a title."""
    if not title or not title.strip():
        return None
    words = set(re.split(r"[^a-z0-9\-]+", domain.fold(title)))
    for bucket, found in SENIORITY:
        if words & set(found):
            return bucket
    return "other"


def snapshot(lead: Any) -> dict[str, Any]:
    """The lead (an ORM row, a record or a mapping with the lead's columns) as the model
    may see it: SNAPSHOT_FIELDS only, as JSON (times as ISO 8601 text)."""
    get = lead.get if isinstance(lead, Mapping) else lambda k: getattr(lead, k, None)
    out: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        value = get(name)
        if isinstance(value, datetime):
            value = domain.format_time(value)
        if value not in (None, "", {}, []):
            out[name] = value
    return out


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return _folded(value)


@lru_cache(maxsize=65536)  # categories repeat: a training run folds each value once
def _folded(value: str) -> str | None:
    return " ".join(domain.fold(value).split())[:_MAX_TEXT] or None


def features(snap: Mapping[str, Any], decided_at: datetime | None = None) -> dict[str, Any]:
    """The snapshot as the model's input: categories as text, counts and numbers as
    numbers. Activities after `decided_at` are not counted."""
    out: dict[str, Any] = {}
    for name in _CATEGORIES:
        text = _text(snap.get(name))
        if text is not None:
            out[name] = text
    title = _text(snap.get("title"))
    if title is not None:
        out["title"] = title
        out["seniority"] = seniority(title)
    score = snap.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        out["score"] = float(score)
    else:
        out["score_missing"] = 1.0
    out |= _activities(snap.get("activities"), decided_at)
    out |= _evidence(snap.get("evidence"))
    out |= _attributes(snap.get("attributes"))
    return out


def _activities(items: Any, decided_at: datetime | None) -> dict[str, float]:
    out: dict[str, float] = {"activities": 0.0}
    if decided_at is not None and decided_at.tzinfo is None:
        decided_at = decided_at.replace(tzinfo=timezone.utc)
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        if decided_at is not None:
            at = item.get("at")
            when = _time(at) if isinstance(at, str) else None
            if when is not None and when > decided_at:
                continue  # done after the decision: the model must not see it
        kind = _text(item.get("kind")) or "other"
        out["activities"] += 1
        out[f"activity:{kind}"] = out.get(f"activity:{kind}", 0.0) + 1
    return out


def _time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)  # as the server writes them, fast
    except ValueError:
        try:
            return domain.parse_time(text)
        except (ValueError, TypeError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _evidence(evidence: Any) -> dict[str, float]:
    """Which BANT keys marketing gave evidence for, and a few of its words."""
    out: dict[str, float] = {}
    if not isinstance(evidence, Mapping):
        return out
    for key, text in evidence.items():
        if isinstance(key, str) and isinstance(text, str) and text.strip():
            out |= _evidence_of(key, text)
    return out


@lru_cache(maxsize=16384)
def _evidence_of(key: str, text: str) -> dict[str, float]:
    out = {f"evidence:{key}": 1.0}
    for word in _WORD.findall(domain.fold(text))[:_WORDS_PER_EVIDENCE]:
        if len(word) >= 3:
            out[f"evidence:{key}:{word}"] = 1.0
    return out


def _attributes(attributes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(attributes, Mapping):
        return out
    for key, value in attributes.items():
        if isinstance(key, str) and isinstance(value, str | int | float):
            made = _attribute(key, value)
            if made is not None:
                out[made[0]] = made[1]
    return out


@lru_cache(maxsize=65536, typed=True)  # typed: True and 1 are different values here
def _attribute(key: str, value: str | int | float) -> tuple[str, Any] | None:
    """An attribute as a feature, or None: a contact's name, email or phone (a flag such
    as "do_not_email" stays), a date (a CRM's close date is written after the decision)."""
    if _CONTACT_KEY.search(key) and not _flag(value):
        return None
    name = f"attr:{key}"
    if isinstance(value, bool):
        return name, "true" if value else "false"
    if isinstance(value, int | float):
        return name, float(value)
    if _DATE.match(value) or domain.is_email(value) or _PHONE.match(value):
        return None
    text = _text(value)
    return (name, text) if text is not None else None


def _flag(value: Any) -> bool:
    """A yes/no value (true, "Yes", "n", 0, 1)."""
    if isinstance(value, bool) or value in (0, 1):
        return True
    return isinstance(value, str) and value.strip().lower() in _FLAGS


def factor_label(name: str, snap: Mapping[str, Any]) -> str:
    """A model column (model.Vectorizer's names: `title=student`, `score#bin=3`,
    `activity:email`, `attr:plan=pro`) as a rep reads it, with the lead's own spelling:
    "title Student", "score 35", "activities email 2", "plan Pro"."""
    base, _, value = name.partition("=")
    base = base.split("#", 1)[0]
    if base.startswith("attr:"):
        key = base[5:]
        raw = (snap.get("attributes") or {}).get(key)
        return f"{key.replace('_', ' ')} {raw if raw is not None else value}"
    if base.startswith("activity:"):
        kind = base[9:]
        count = sum(1 for a in snap.get("activities") or () if isinstance(a, Mapping)
                    and (_text(a.get("kind")) or "other") == kind)  # fmt: skip
        return f"activities {kind} {count}"
    if base.startswith("evidence:"):
        key, _, word = base[9:].partition(":")
        return f"{key} evidence {word}" if word else f"{key} evidence"
    if base == "score_missing":
        return "no score"
    raw = snap.get(base)
    if base == "seniority":
        shown = value.replace("_", "-")
    elif base == "activities":
        shown = str(len(snap.get("activities") or ()))
    else:
        shown = str(raw) if raw not in (None, "") else value
    return f"{base.replace('_', ' ')} {shown}".strip()
