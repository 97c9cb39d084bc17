"""Rows of an import file or of a marketing upsert, validated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.domain.dates import parse_time
from triage.domain.lead import BANT_KEYS, Activity
from triage.domain.text import control_problem, quoted, shown_text, storable_text

IMPORT_REQUIRED = ("external_id", "name", "email")
IMPORT_OPTIONAL = (
    "phone", "title", "company", "industry", "company_size", "country", "source",
    "campaign", "score", "mql_at", "owner", "evidence_budget", "evidence_authority",
    "evidence_need", "evidence_timing", "activities",
)  # fmt: skip
IMPORT_KEYS = IMPORT_REQUIRED + IMPORT_OPTIONAL
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEXT_LIMIT = 500


def is_email(text: str) -> bool:
    """Looks like an email address (one @, a dot after it, no spaces)."""
    return _EMAIL.match(text) is not None


@dataclass(frozen=True, slots=True)
class LeadInput:
    """One validated row of an import file or of a marketing upsert."""

    external_id: str
    name: str
    email: str
    fields: dict[str, Any]  # optional fields present in the row, already typed
    owner: str | None = None  # an email; None when the row leaves the owner alone
    evidence: dict[str, str] = field(default_factory=dict)
    activities: tuple[Activity, ...] | None = None


def parse_import_row(row: Mapping[str, Any]) -> tuple[LeadInput | None, list[str]]:
    """Validate one import row; returns (input, []) or (None, [problems])."""
    problems: list[str] = []
    if not isinstance(row, Mapping):
        return None, ["expected an object of fields"]
    unknown = [k for k in row if k not in IMPORT_KEYS]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(map(shown_text, unknown))}")

    def text(key: str, required: bool = False, multiline: bool = False) -> str | None:
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                problems.append(f"{key} is required")
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            problems.append(f"{key} must be text")
            return None
        value = value.strip()
        if not storable_text(value):
            problems.append(f"{key} contains a NUL character or invalid Unicode")
            return None
        if multiline:  # CRM exports write CRLF inside quoted cells
            value = value.replace("\r\n", "\n")
        control = control_problem(value, multiline=multiline)
        if control is not None:
            problems.append(f"{key} {control}")
            return None
        if len(value) > _TEXT_LIMIT:
            problems.append(f"{key} is longer than {_TEXT_LIMIT} characters")
            return None
        return value

    external_id = text("external_id", True)
    name = text("name", True)
    email = text("email", True)
    if email and not _EMAIL.match(email):
        problems.append(f"email {quoted(email)} is not an email address")

    fields: dict[str, Any] = {}
    for key in (
        "phone",
        "title",
        "company",
        "industry",
        "company_size",
        "country",
        "source",
        "campaign",
    ):
        if key in row:
            fields[key] = text(key)

    if "score" in row and row["score"] not in (None, ""):
        raw = row["score"]
        try:
            if isinstance(raw, bool):
                raise ValueError
            score = int(str(raw).strip()) if not isinstance(raw, (int, float)) else raw
            if isinstance(score, float):
                if not score.is_integer():
                    raise ValueError
                score = int(score)
            if not 0 <= score <= 100:
                problems.append(f"score must be between 0 and 100, not {quoted(raw)}")
            else:
                fields["score"] = score
        except ValueError:
            problems.append(f"score must be a whole number, not {quoted(raw)}")

    if "mql_at" in row and row["mql_at"] not in (None, ""):
        try:
            fields["mql_at"] = parse_time(row["mql_at"])
        except (ValueError, TypeError):
            problems.append(f"mql_at {quoted(row['mql_at'])} is not a date or time (use ISO 8601)")

    owner = None
    if "owner" in row:
        owner = text("owner")
        if owner is not None and not _EMAIL.match(owner):
            problems.append(f"owner {quoted(owner)} is not an email address")

    evidence: dict[str, str] = {}
    for key in BANT_KEYS:
        value = text(f"evidence_{key}", multiline=True)
        if value:
            evidence[key] = value

    activities: tuple[Activity, ...] | None = None
    if row.get("activities") not in (None, ""):
        raw_acts = row["activities"]
        if isinstance(raw_acts, list):
            acts: list[Activity] = []
            for j, a in enumerate(raw_acts, 1):
                try:
                    detail = str(a.get("detail", "")).replace("\r\n", "\n")
                    act = Activity(parse_time(a["at"]), str(a["kind"]), detail)
                    if not (storable_text(act.kind) and storable_text(act.detail)):
                        raise ValueError("not storable text")
                except (KeyError, TypeError, ValueError, AttributeError):
                    problems.append(f"activities #{j} needs at (a time), kind and detail")
                    continue
                control = control_problem(act.kind) or control_problem(act.detail, multiline=True)
                if control is not None:
                    problems.append(f"activities #{j} {control}")
                    continue
                acts.append(act)
            activities = tuple(sorted(acts, key=lambda x: x.at))
        else:
            problems.append("activities must be a list of {at, kind, detail}")

    if problems:
        return None, problems
    assert external_id and name and email
    return LeadInput(external_id, name, email, fields, owner, evidence, activities), []
