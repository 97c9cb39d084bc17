"""Rows of an import file or of a marketing upsert, validated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.domain.attributes import attribute_problems
from triage.domain.codec import PROFILE_FIELDS
from triage.domain.dates import parse_time
from triage.domain.lead import BANT_KEYS, Activity
from triage.domain.text import control_problem, quoted, shown_text, storable_text

IMPORT_REQUIRED = ("external_id", "name", "email")
IMPORT_OPTIONAL = (
    "phone", "title", "company", "industry", "company_size", "country", "source",
    "campaign", "score", "mql_at", "owner", "evidence_budget", "evidence_authority",
    "evidence_need", "evidence_timing", "activities", "attributes",
)  # fmt: skip
IMPORT_KEYS = IMPORT_REQUIRED + IMPORT_OPTIONAL
_KNOWN = frozenset(IMPORT_KEYS)
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
    attributes: dict[str, Any] | None = None  # None: the row leaves them alone

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled by its fields in order: an import spools its checked rows, and the
        # dataclass's own state functions cost a second per 100,000 rows
        return (LeadInput, (self.external_id, self.name, self.email, self.fields, self.owner,
                            self.evidence, self.activities, self.attributes))  # fmt: skip


def parse_import_row(row: Mapping[str, Any]) -> tuple[LeadInput | None, list[str]]:
    """Validate one import row; returns (input, []) or (None, [problems])."""
    if not isinstance(row, Mapping):
        return None, ["expected an object of fields"]
    reader = _RowReader(row)
    unknown = [k for k in row if k not in _KNOWN]
    if unknown:
        reader.problems.append(f"unknown column(s): {', '.join(map(shown_text, unknown))}")
    external_id = reader.text("external_id", required=True)
    name = reader.text("name", required=True)
    email = reader.text("email", required=True)
    if email and not _EMAIL.match(email):
        reader.problems.append(f"email {quoted(email)} is not an email address")
    fields: dict[str, Any] = {k: reader.text(k) for k in PROFILE_FIELDS if k in row}
    fields |= reader.score() | reader.mql_at()
    owner = reader.owner()
    evidence = {
        key: value for key in BANT_KEYS if (value := reader.text(f"evidence_{key}", multiline=True))
    }
    activities = reader.activities()
    attributes = None
    if "attributes" in row:
        attributes, problems = attribute_problems(row["attributes"])
        reader.problems += problems
    if reader.problems:
        return None, reader.problems
    assert external_id and name and email
    return LeadInput(external_id, name, email, fields, owner, evidence, activities, attributes), []


def whole_number(raw: Any) -> int:
    """A whole number written as one: 12, "12", 12.0, "12.0" (spreadsheets write that),
    never true or 12.5. Raises ValueError."""
    if isinstance(raw, bool):
        raise ValueError("not a number")
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > 40:
            raise ValueError("too long")
        try:
            return int(text)
        except ValueError:
            raw = float(text)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError("not whole")
        return int(raw)
    if isinstance(raw, int):
        return raw
    raise ValueError("not a number")


class _RowReader:
    """The fields of one row, each checked; what is wrong goes to `problems`."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.problems: list[str] = []

    def text(self, key: str, *, required: bool = False, multiline: bool = False) -> str | None:
        value = self.row.get(key)
        if type(value) is str:  # most cells: printable ASCII, every check below passes
            short = value.strip()
            if short and len(short) <= _TEXT_LIMIT and short.isascii() and short.isprintable():
                return short
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problems.append(f"{key} is required")
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.problems.append(f"{key} must be text")
            return None
        value = value.strip()
        if not storable_text(value):
            self.problems.append(f"{key} contains a NUL character or invalid Unicode")
            return None
        if multiline:  # CRM exports write CRLF inside quoted cells
            value = value.replace("\r\n", "\n")
        control = control_problem(value, multiline=multiline)
        if control is not None:
            self.problems.append(f"{key} {control}")
            return None
        if len(value) > _TEXT_LIMIT:
            self.problems.append(f"{key} is longer than {_TEXT_LIMIT} characters")
            return None
        return value

    def score(self) -> dict[str, int]:
        raw = self.row.get("score")
        if raw in (None, ""):
            return {}
        try:
            score = whole_number(raw)
        except ValueError:
            self.problems.append(f"score must be a whole number, not {quoted(raw)}")
            return {}
        if not 0 <= score <= 100:
            self.problems.append(f"score must be between 0 and 100, not {quoted(raw)}")
            return {}
        return {"score": score}

    def mql_at(self) -> dict[str, Any]:
        raw = self.row.get("mql_at")
        if raw in (None, ""):
            return {}
        try:
            return {"mql_at": parse_time(raw)}
        except (ValueError, TypeError):
            self.problems.append(f"mql_at {quoted(raw)} is not a date or time (use ISO 8601)")
            return {}

    def owner(self) -> str | None:
        if "owner" not in self.row:
            return None
        owner = self.text("owner")
        if owner is not None and not _EMAIL.match(owner):
            self.problems.append(f"owner {quoted(owner)} is not an email address")
        return owner

    def activities(self) -> tuple[Activity, ...] | None:
        raw = self.row.get("activities")
        if raw in (None, ""):
            return None
        if not isinstance(raw, list):
            self.problems.append("activities must be a list of {at, kind, detail}")
            return None
        acts = [act for j, item in enumerate(raw, 1) if (act := self._activity(j, item))]
        return tuple(sorted(acts, key=lambda x: x.at))

    def _activity(self, j: int, item: Any) -> Activity | None:
        try:
            detail = str(item.get("detail", "")).replace("\r\n", "\n")
            act = Activity(parse_time(item["at"]), str(item["kind"]), detail)
            if not (storable_text(act.kind) and storable_text(act.detail)):
                raise ValueError("not storable text")
        except (KeyError, TypeError, ValueError, AttributeError):
            self.problems.append(f"activities #{j} needs at (a time), kind and detail")
            return None
        control = control_problem(act.kind) or control_problem(act.detail, multiline=True)
        if control is not None:
            self.problems.append(f"activities #{j} {control}")
            return None
        return act
