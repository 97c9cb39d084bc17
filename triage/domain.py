"""Pure rules and types of Triage: leads, BANT, outcomes, reasons, policy.

No I/O and nothing of ours is imported here. Everything else builds on these
names: the server validates mutations with them, the client store checks a
decision before it commits it, the TUI shows them.
"""

from __future__ import annotations

import calendar
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

BANT_KEYS: tuple[str, ...] = ("budget", "authority", "need", "timing")


class Status(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NURTURE = "nurture"


class Outcome(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    NURTURE = "nurture"

    @property
    def status(self) -> Status:
        return _OUTCOME_STATUS[self]


_OUTCOME_STATUS = {
    Outcome.ACCEPT: Status.ACCEPTED,
    Outcome.REJECT: Status.REJECTED,
    Outcome.NURTURE: Status.NURTURE,
}


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


_ANSWERS = frozenset(a.value for a in Answer)
ANSWER_CYCLE = (Answer.UNKNOWN, Answer.YES, Answer.NO)


def next_answer(current: str | None) -> Answer:
    """The answer after `current` in the cycle unknown -> yes -> no -> unknown."""
    try:
        i = ANSWER_CYCLE.index(Answer(current or Answer.UNKNOWN))
    except ValueError:
        i = 0
    return ANSWER_CYCLE[(i + 1) % len(ANSWER_CYCLE)]


class Role(StrEnum):
    REP = "rep"
    MARKETING = "marketing"


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


# ---------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    label: str
    question: str


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    label: str
    bant: str | None = None
    note_required: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    """The organisation's agreed definition of "qualified", served by the server."""

    version: int
    sla_hours: float
    bant: tuple[Criterion, ...]
    reject_reasons: tuple[Reason, ...]
    nurture_reasons: tuple[Reason, ...]

    def reasons_for(self, outcome: Outcome | str) -> tuple[Reason, ...]:
        outcome = Outcome(outcome)
        if outcome is Outcome.REJECT:
            return self.reject_reasons
        if outcome is Outcome.NURTURE:
            return self.nurture_reasons
        return ()

    def reason(self, outcome: Outcome | str, code: str | None) -> Reason | None:
        for r in self.reasons_for(outcome):
            if r.code == code:
                return r
        return None

    def check_decision(
        self, outcome: Outcome | str, reason: str | None, note: str | None
    ) -> str | None:
        """None when the decision is valid, else the error code of the protocol."""
        try:
            outcome = Outcome(outcome)
        except ValueError:
            return "bad_outcome"
        if outcome is Outcome.ACCEPT:
            return "unknown_reason" if reason else None
        found = self.reason(outcome, reason)
        if found is None:
            return "unknown_reason" if reason else "reason_required"
        if found.note_required and not (note or "").strip():
            return "note_required"
        return None

    def check_bant(self, answers: Mapping[str, Any]) -> str | None:
        keys = {c.key for c in self.bant}
        for k, v in answers.items():
            if k not in keys:
                return "unknown_bant_key"
            if v not in _ANSWERS:
                return "bad_bant_value"
        return None

    @property
    def bant_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.bant)

    def to_dict(self) -> dict[str, Any]:
        def reason(r: Reason) -> dict[str, Any]:
            return {
                "code": r.code,
                "label": r.label,
                "bant": r.bant,
                "note_required": r.note_required,
            }

        return {
            "version": self.version,
            "sla_hours": self.sla_hours,
            "bant": [{"key": c.key, "label": c.label, "question": c.question} for c in self.bant],
            "reject_reasons": [reason(r) for r in self.reject_reasons],
            "nurture_reasons": [reason(r) for r in self.nurture_reasons],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], version: int | None = None) -> Policy:
        """Build and validate a policy; raises PolicyError naming what is wrong."""
        return _policy_from_mapping(data, version=version, where="policy")


class PolicyError(ValueError):
    """A policy file or document that cannot be used; the message says why."""


DEFAULT_BANT = (
    Criterion("budget", "Budget", "Is there budget for this purchase, or a path to it?"),
    Criterion("authority", "Authority", "Is this person the decision maker, or close to one?"),
    Criterion("need", "Need", "Do they have a problem we solve?"),
    Criterion("timing", "Timing", "Will they buy within the next two quarters?"),
)

DEFAULT_REJECT_REASONS = (
    Reason("no_budget", "No budget", "budget"),
    Reason("not_decision_maker", "Not a decision maker", "authority"),
    Reason("no_need", "No need", "need"),
    Reason("not_icp_fit", "Not our ideal customer profile"),
    Reason("bad_contact_data", "Bad contact data"),
    Reason("duplicate", "Duplicate lead"),
    Reason("existing_customer", "Existing customer"),
    Reason("competitor_or_partner", "Competitor or partner"),
    Reason("spam_or_student", "Spam or student"),
    Reason("other", "Other (say why)", None, True),
)

DEFAULT_NURTURE_REASONS = (
    Reason("timing_later", "Timing: buying later", "timing"),
    Reason("early_research", "Early research"),
    Reason("no_response", "No response"),
    Reason("budget_next_cycle", "Budget next cycle", "budget"),
)

DEFAULT_POLICY = Policy(
    version=1,
    sla_hours=24.0,
    bant=DEFAULT_BANT,
    reject_reasons=DEFAULT_REJECT_REASONS,
    nurture_reasons=DEFAULT_NURTURE_REASONS,
)

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _policy_from_mapping(data: Mapping[str, Any], *, version: int | None, where: str) -> Policy:
    errors: list[str] = []
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: expected a table of settings")
    known = {"version", "sla_hours", "bant", "reject_reasons", "nurture_reasons"}
    for key in data:
        if key not in known:
            errors.append(f"unknown key {key!r} (known: {', '.join(sorted(known))})")

    sla = data.get("sla_hours", DEFAULT_POLICY.sla_hours)
    if isinstance(sla, bool) or not isinstance(sla, (int, float)) or not 0 < sla <= 24 * 365:
        errors.append(f"sla_hours must be a number of hours between 0 and 8760, not {sla!r}")
        sla = DEFAULT_POLICY.sla_hours

    bant: list[Criterion] = []
    raw_bant = data.get("bant")
    if raw_bant is None:
        bant = list(DEFAULT_BANT)
    elif not isinstance(raw_bant, list) or not raw_bant:
        errors.append("bant must be a non-empty list of [[bant]] tables")
    else:
        for i, item in enumerate(raw_bant, 1):
            if not isinstance(item, Mapping):
                errors.append(f"bant #{i}: expected a table")
                continue
            key = item.get("key")
            if key not in BANT_KEYS:
                errors.append(f"bant #{i}: key must be one of {', '.join(BANT_KEYS)}, not {key!r}")
                continue
            label = item.get("label") or key.capitalize()
            question = item.get("question") or ""
            if not isinstance(label, str) or not isinstance(question, str):
                errors.append(f"bant #{i} ({key}): label and question must be text")
                continue
            bant.append(Criterion(key, label, question))
        dupes = {c.key for c in bant if [d.key for d in bant].count(c.key) > 1}
        if dupes:
            errors.append(f"bant: key repeated: {', '.join(sorted(dupes))}")

    def reasons(name: str, default: tuple[Reason, ...]) -> tuple[Reason, ...]:
        raw = data.get(name)
        if raw is None:
            return default
        if not isinstance(raw, list) or not raw:
            errors.append(f"{name} must be a non-empty list of [[{name}]] tables")
            return default
        out: list[Reason] = []
        for i, item in enumerate(raw, 1):
            if not isinstance(item, Mapping):
                errors.append(f"{name} #{i}: expected a table")
                continue
            code = item.get("code")
            if not isinstance(code, str) or not _CODE.match(code):
                errors.append(
                    f"{name} #{i}: code must be lower_snake_case (letters, digits, _), not {code!r}"
                )
                continue
            label = item.get("label") or code.replace("_", " ").capitalize()
            linked = item.get("bant")
            if linked is not None and linked not in BANT_KEYS:
                errors.append(f"{name} #{i} ({code}): bant must be one of {', '.join(BANT_KEYS)}")
                continue
            note_required = item.get("note_required", False)
            if not isinstance(note_required, bool):
                errors.append(f"{name} #{i} ({code}): note_required must be true or false")
                continue
            unknown = set(item) - {"code", "label", "bant", "note_required"}
            if unknown:
                errors.append(f"{name} #{i} ({code}): unknown key(s) {', '.join(sorted(unknown))}")
            out.append(Reason(code, str(label), linked, note_required))
        codes = [r.code for r in out]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            errors.append(f"{name}: code repeated: {', '.join(dupes)}")
        return tuple(out)

    reject = reasons("reject_reasons", DEFAULT_REJECT_REASONS)
    nurture = reasons("nurture_reasons", DEFAULT_NURTURE_REASONS)
    if errors:
        raise PolicyError(f"{where}: " + "; ".join(errors))
    v = version if version is not None else data.get("version", 1)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise PolicyError(f"{where}: version must be a positive whole number")
    return Policy(int(v), float(sla), tuple(bant), reject, nurture)


def load_policy_toml(text: str, *, where: str = "policy file") -> Policy:
    """Parse an organisation's policy from TOML text.

    ```toml
    sla_hours = 48
    [[reject_reasons]]
    code = "no_budget"
    label = "No budget"
    bant = "budget"
    ```
    Sections left out keep their defaults. Raises PolicyError with every problem.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML: {exc}") from None
    data.pop("version", None)  # the server numbers policies itself
    return _policy_from_mapping(data, version=1, where=where)


# ---------------------------------------------------------------- leads


@dataclass(frozen=True, slots=True)
class Activity:
    at: datetime
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str | None
    note: str | None
    at: datetime
    by: str | None = None
    nurture_until: date | None = None
    id: str | None = None  # "client_id:seq" of its first sending (servers with "origin")


@dataclass(frozen=True, slots=True)
class PastDecision:
    """A decision of an earlier cycle of the lead (before marketing reassigned it): what its
    new owner may see of it, never the note."""

    outcome: Outcome
    reason: str | None
    at: datetime
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Lead:
    id: str
    external_id: str
    name: str
    email: str
    version: int = 1
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    company_size: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    score: int = 0
    mql_at: datetime | None = None
    assigned_at: datetime | None = None
    owner: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)
    activities: tuple[Activity, ...] = ()
    bant: dict[str, str] = field(default_factory=dict)
    status: Status = Status.OPEN
    decision: Decision | None = None
    history: tuple[PastDecision, ...] = ()  # earlier cycles, oldest first

    def bant_answer(self, key: str) -> Answer:
        try:
            return Answer(self.bant.get(key, Answer.UNKNOWN))
        except ValueError:
            return Answer.UNKNOWN

    def has_bant_no(self) -> bool:
        return any(v == Answer.NO for v in self.bant.values())

    def decided(self, decision: Decision) -> Lead:
        return replace(self, status=decision.outcome.status, decision=decision)

    def reopened(self) -> Lead:
        return replace(self, status=Status.OPEN, decision=None)


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

SLA_LEVELS = ("fresh", "due", "late", "very-late")


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

NURTURE_DATE_FORMS = "a date like 2027-03-01, or +30d, +6w, +3m, +1y from today"
NURTURE_TOLERANCE = timedelta(days=1)
_RELATIVE = re.compile(r"^\+(\d{1,4})([dwmy])$")


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def parse_nurture_until(text: str, today: date) -> date:
    """When marketing may bring a nurtured lead back: an ISO date, or `+30d`, `+6w`,
    `+3m`, `+1y` counted from `today` (the rep's local date). Only a date after today;
    ValueError with a sentence otherwise. The CLI and the TUI both use this."""
    value = text.strip().lower()
    m = _RELATIVE.match(value)
    try:
        if m:
            n, unit = int(m.group(1)), m.group(2)
            if unit in "dw":
                found = today + timedelta(days=n if unit == "d" else 7 * n)
            else:
                found = _add_months(today, n if unit == "m" else 12 * n)
        else:
            found = date.fromisoformat(value)
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


# ---------------------------------------------------------------- control characters

# C0 controls, DEL and C1 controls: what a terminal may take for a command (ESC [ ...,
# OSC ... BEL). Tab and newline are kept in the few fields that are free text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def control_problem(value: str, *, multiline: bool = False) -> str | None:
    """A sentence when `value` holds a control character (tab and newline are allowed
    when `multiline`), else None."""
    found = (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value)
    if found is None:
        return None
    return (
        f"contains a control character (U+{ord(found.group()):04X}) at position {found.start() + 1}"
    )


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures: ␛ for ESC, ␇ for BEL
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def terminal_text(value: str, *, multiline: bool = False) -> str:
    """`value` safe to write to a terminal: control characters become visible symbols
    (ESC becomes ␛); tab and newline stay when `multiline`, else become spaces."""
    if multiline:
        return _CONTROL_IN_TEXT.sub(_picture, value.replace("\r\n", "\n"))
    return _CONTROL.sub(_picture, value.replace("\t", " ").replace("\r\n", " ").replace("\n", " "))


def _needs_cleaning(lead: Lead) -> bool:
    """A quick test (a few microseconds): does any text of the lead hold a control character?"""
    single = "|".join(
        filter(None, (lead.external_id, lead.name, lead.email, lead.phone, lead.title,
                      lead.company, lead.industry, lead.company_size, lead.country, lead.source,
                      lead.campaign, lead.owner))
    )  # fmt: skip
    if _CONTROL.search(single):
        return True
    multi = "|".join(lead.evidence.values())
    if lead.activities:
        if _CONTROL.search("|".join([a.kind for a in lead.activities])):
            return True
        multi += "|".join([a.detail for a in lead.activities])
    if lead.decision is not None and lead.decision.note:
        multi += lead.decision.note
    return _CONTROL_IN_TEXT.search(multi) is not None or "\r" in multi


def clean_lead(lead: Lead) -> Lead:
    """The lead with every text made safe for a terminal (see terminal_text). The client
    applies it to whatever a server sends, so no screen or table can print an escape."""
    if not _needs_cleaning(lead):
        return lead

    def one(value: str | None) -> str | None:
        return None if value is None else terminal_text(value)

    decision = lead.decision
    if decision is not None and decision.note is not None:
        decision = replace(decision, note=terminal_text(decision.note, multiline=True))
    return replace(
        lead,
        external_id=terminal_text(lead.external_id),
        name=terminal_text(lead.name),
        email=terminal_text(lead.email),
        phone=one(lead.phone),
        title=one(lead.title),
        company=one(lead.company),
        industry=one(lead.industry),
        company_size=one(lead.company_size),
        country=one(lead.country),
        source=one(lead.source),
        campaign=one(lead.campaign),
        owner=one(lead.owner),
        evidence={k: terminal_text(v, multiline=True) for k, v in lead.evidence.items()},
        activities=tuple(
            Activity(a.at, terminal_text(a.kind), terminal_text(a.detail, multiline=True))
            for a in lead.activities
        ),
        decision=decision,
    )


# ---------------------------------------------------------------- search text


# Letters that carry no combining accent to drop, folded as a person types them.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                          "þ": "th", "ı": "i", "ħ": "h", "ŧ": "t"})  # fmt: skip


def fold(text: str) -> str:
    """Case and accents folded, for matching what a person types: "Schäfer" -> "schafer",
    "Kühne" -> "kuhne", "Straße" -> "strasse", "Ørsted" -> "orsted". Both sides of a search."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)


# ---------------------------------------------------------------- refusals

# What the server's refusal codes (push results `conflict` and `invalid`) mean, for the rep.
REFUSALS: dict[str, str] = {
    "already_decided": "Someone already decided this lead on the server "
    "(a colleague, or you from another device).",
    "not_assigned": "The lead is no longer assigned to you (reassigned or withdrawn).",
    "unknown_reason": "The server does not know this reason: the policy changed since.",
    "note_required": "The server's policy needs a note with this reason.",
    "reason_required": "The server needs a reason for this decision.",
    "not_open": "The lead was not open any more on the server.",
    "not_decided": "There was nothing to undo: the lead was not decided on the server.",
    "not_own_decision": "Your undo was refused: the decision on the server is someone else's.",
    "bant_required": "The server needs at least one BANT answer in the change.",
    "bad_outcome": "The server did not accept the outcome.",
    "unknown_bant_key": "The server's policy has no such BANT criterion.",
    "bad_bant_value": "The server refused the BANT answer.",
    "bad_nurture_until": "The re-entry date was before the day you decided: pick a later one.",
    "server_restored": "The server was restored from a backup and had lost this; it was sent "
    "again, as the same decision (nothing for you to do but look).",
    "unknown_outcome": "The server had processed this change before but did not say how it "
    "went; its version of the lead is shown.",
}


def explain_refusal(status: str, error: str | None) -> str:
    """The server's refusal of a change as a sentence (status: conflict | invalid)."""
    if error in REFUSALS:
        return REFUSALS[error]
    if status == "invalid":
        return f"The server refused the change as invalid ({error or 'no reason given'})."
    return f"The server could not apply the change ({error or 'no reason given'})."


def decision_to_dict(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "outcome": Outcome(d.outcome).value,
        "reason": d.reason,
        "note": d.note,
        "at": format_time(d.at),
        "by": d.by,
        "nurture_until": d.nurture_until.isoformat() if d.nurture_until else None,
        **({"id": d.id} if d.id else {}),
    }


def decision_from_dict(d: dict[str, Any] | None) -> Decision | None:
    if d is None:
        return None
    until = d.get("nurture_until")
    return Decision(
        outcome=Outcome(d["outcome"]),
        reason=d.get("reason"),
        note=d.get("note"),
        at=parse_time(d["at"]),
        by=d.get("by"),
        nurture_until=date.fromisoformat(until) if until else None,
        id=d.get("id"),
    )


def lead_to_dict(lead: Lead) -> dict[str, Any]:
    """A lead as the JSON object of protocol v1 (the store keeps leads in this form too)."""
    return {
        "id": lead.id,
        "external_id": lead.external_id,
        "version": lead.version,
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "title": lead.title,
        "company": lead.company,
        "industry": lead.industry,
        "company_size": lead.company_size,
        "country": lead.country,
        "source": lead.source,
        "campaign": lead.campaign,
        "score": lead.score,
        "mql_at": format_time(lead.mql_at),
        "assigned_at": format_time(lead.assigned_at),
        "owner": lead.owner,
        "evidence": dict(lead.evidence),
        "activities": [
            {"at": format_time(a.at), "kind": a.kind, "detail": a.detail} for a in lead.activities
        ],
        "bant": dict(lead.bant),
        "status": Status(lead.status).value,
        "decision": decision_to_dict(lead.decision),
        **(
            {
                "history": [
                    {
                        "outcome": Outcome(h.outcome).value,
                        "reason": h.reason,
                        "at": format_time(h.at),
                        "by": h.by,
                    }
                    for h in lead.history
                ]
            }
            if lead.history
            else {}
        ),  # fmt: skip
    }


def _opt_time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


def lead_from_dict(d: dict[str, Any]) -> Lead:
    return Lead(
        id=d["id"],
        external_id=d["external_id"],
        version=d["version"],
        name=d["name"],
        email=d["email"],
        phone=d.get("phone"),
        title=d.get("title"),
        company=d.get("company"),
        industry=d.get("industry"),
        company_size=d.get("company_size"),
        country=d.get("country"),
        source=d.get("source"),
        campaign=d.get("campaign"),
        score=d.get("score", 0),
        mql_at=_opt_time(d.get("mql_at")),
        assigned_at=_opt_time(d.get("assigned_at")),
        owner=d.get("owner"),
        evidence=dict(d.get("evidence") or {}),
        activities=tuple(
            Activity(parse_time(a["at"]), a["kind"], a.get("detail", ""))
            for a in d.get("activities") or ()
        ),
        bant=dict(d.get("bant") or {}),
        status=Status(d.get("status", "open")),
        decision=decision_from_dict(d.get("decision")),
        history=tuple(
            PastDecision(Outcome(h["outcome"]), h.get("reason"), parse_time(h["at"]), h.get("by"))
            for h in d.get("history") or ()
        ),
    )


# ---------------------------------------------------------------- import rows

IMPORT_REQUIRED = ("external_id", "name", "email")
IMPORT_OPTIONAL = (
    "phone", "title", "company", "industry", "company_size", "country", "source",
    "campaign", "score", "mql_at", "owner", "evidence_budget", "evidence_authority",
    "evidence_need", "evidence_timing", "activities",
)  # fmt: skip
IMPORT_KEYS = IMPORT_REQUIRED + IMPORT_OPTIONAL
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEXT_LIMIT = 500


def storable_text(value: str) -> bool:
    """Text every database engine can store: no NUL (PostgreSQL refuses it), no lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_text(value: Any) -> str:
    """`value` as text that can always be printed or sent as UTF-8 JSON."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def quoted(value: Any, limit: int = 60) -> str:
    """`value`'s repr for a problem message, cut to about `limit` characters: a bad
    value can be megabytes long, and the message names it, not prints it."""
    try:
        text = shown_text(repr(value))
    except ValueError:  # an int of more than 4,300 digits has no repr
        return "a number of more than 4,300 digits"
    if len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


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


# ---------------------------------------------------------------- filter language


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


def merge_bant(current: Mapping[str, str], changes: Iterable[tuple[str, str]]) -> dict[str, str]:
    out = dict(current)
    for k, v in changes:
        out[k] = v
    return out
