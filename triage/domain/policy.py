"""The qualification policy: the organisation's agreed definition of "qualified"."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from triage.domain.lead import _ANSWERS, BANT_KEYS, Outcome

DEFAULT_TIMEZONE = "UTC"


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
    # The reason picker's key for it, a digit or a lowercase letter, kept whatever the
    # reasons around it (muscle memory survives a new reason); None: numbered in order.
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestions:
    """Whether reps are shown the model's suggested verdict (issue 14), and from which
    confidence (the probability of the suggested outcome, 0 to 1): below it, none is sent."""

    enabled: bool = True
    threshold: float = 0.6

    def shows(self, confidence: Any) -> bool:
        return (
            self.enabled
            and isinstance(confidence, int | float)
            and not isinstance(confidence, bool)
            and confidence >= self.threshold
        )


DEFAULT_SUGGESTIONS = Suggestions()


@dataclass(frozen=True, slots=True)
class Policy:
    """The organisation's agreed definition of "qualified", served by the server."""

    version: int
    sla_hours: float
    bant: tuple[Criterion, ...]
    reject_reasons: tuple[Reason, ...]
    nurture_reasons: tuple[Reason, ...]
    # The organisation's time zone (an IANA name): the dates, weeks and quarters of
    # marketing's reports are read in it. Optional on the wire (left out when UTC).
    timezone: str = DEFAULT_TIMEZONE
    # The suggestions of the model of the team's decisions: on, from 60% confidence.
    # Optional on the wire (left out when the default; an older client ignores it).
    suggestions: Suggestions = DEFAULT_SUGGESTIONS

    def reasons_for(self, outcome: Outcome | str) -> tuple[Reason, ...]:
        if not isinstance(outcome, Outcome):  # (an enum's call costs more than the rest)
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
            outcome = outcome if isinstance(outcome, Outcome) else Outcome(outcome)
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
                # Left out when none: a policy stored before keys existed reads back equal.
                **({"key": r.key} if r.key is not None else {}),
            }

        return {
            "version": self.version,
            "sla_hours": self.sla_hours,
            "bant": [{"key": c.key, "label": c.label, "question": c.question} for c in self.bant],
            "reject_reasons": [reason(r) for r in self.reject_reasons],
            "nurture_reasons": [reason(r) for r in self.nurture_reasons],
            # Left out when it is the default, so that a policy stored before the setting
            # existed reads back equal, and an older client is sent nothing new.
            **({"timezone": self.timezone} if self.timezone != DEFAULT_TIMEZONE else {}),
            **(
                {
                    "suggestions": {
                        "enabled": self.suggestions.enabled,
                        "threshold": self.suggestions.threshold,
                    }
                }
                if self.suggestions != DEFAULT_SUGGESTIONS
                else {}
            ),  # fmt: skip
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], version: int | None = None) -> Policy:
        """Build and validate a policy; raises PolicyError naming what is wrong."""
        return _policy_from_mapping(data, version=version, where="policy")


class PolicyError(ValueError):
    """A policy file or document that cannot be used; the message says why.

    `errors` lists each problem on its own (the message joins them), for a caller that
    shows every problem beside the line it is about."""

    def __init__(self, message: str, errors: Iterable[str] = ()):
        super().__init__(message)
        self.errors = list(errors) or [message]


def timezone_problem(name: Any) -> str | None:
    """None when `name` is an IANA time zone this machine knows, else what is wrong."""
    import zoneinfo

    if not isinstance(name, str) or not name.strip():
        return f"timezone must be an IANA time zone name like Europe/Berlin, not {name!r}"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"timezone {name!r} is not a known time zone (use an IANA name like Europe/Berlin)"
    return None


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
    """Read and validate a policy document; every problem is collected, then raised at once."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: expected a table of settings")
    errors = _unknown_keys(data)
    sla = _sla_hours(data, errors)
    tz = _timezone(data, errors)
    suggestions = _suggestions(data, errors)
    bant = _bant(data, errors)
    reject = _reasons(data, "reject_reasons", DEFAULT_REJECT_REASONS, errors)
    nurture = _reasons(data, "nurture_reasons", DEFAULT_NURTURE_REASONS, errors)
    if errors:
        raise PolicyError(f"{where}: " + "; ".join(errors), errors)
    v = version if version is not None else data.get("version", 1)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise PolicyError(f"{where}: version must be a positive whole number")
    return Policy(int(v), float(sla), bant, reject, nurture, str(tz), suggestions)


_POLICY_KEYS = {"version", "sla_hours", "bant", "reject_reasons", "nurture_reasons", "timezone",
                "suggestions"}  # fmt: skip
_REASON_KEYS = {"code", "label", "bant", "note_required", "key"}
_PICKER_KEY = re.compile(r"^[0-9a-z]$")
PICKER_DIGITS = "1234567890"  # the numbering of reasons without a key of their own


def picker_keys(reasons: Iterable[Reason]) -> list[str | None]:
    """The key each reason answers to in the reason picker: its own `key`, else the next
    digit (1-9, then 0) that no reason of the list has as its own; None once the digits
    run out (arrows and enter reach it)."""
    reasons = list(reasons)
    taken = {r.key for r in reasons if r.key is not None}
    free = iter(d for d in PICKER_DIGITS if d not in taken)
    return [r.key if r.key is not None else next(free, None) for r in reasons]


def _unknown_keys(data: Mapping[str, Any]) -> list[str]:
    known = ", ".join(sorted(_POLICY_KEYS))
    return [f"unknown key {key!r} (known: {known})" for key in data if key not in _POLICY_KEYS]


def _repeated(keys: list[str]) -> list[str]:
    return sorted({k for k in keys if keys.count(k) > 1})


def _sla_hours(data: Mapping[str, Any], errors: list[str]) -> float:
    """The SLA in hours (up to a year); the default when left out or wrong."""
    sla = data.get("sla_hours", DEFAULT_POLICY.sla_hours)
    if isinstance(sla, bool) or not isinstance(sla, (int, float)) or not 0 < sla <= 24 * 365:
        errors.append(f"sla_hours must be a number of hours between 0 and 8760, not {sla!r}")
        return DEFAULT_POLICY.sla_hours
    return sla


def _timezone(data: Mapping[str, Any], errors: list[str]) -> str:
    """The organisation's IANA time zone; UTC when left out or unknown."""
    tz = data.get("timezone")
    if tz is None:
        return DEFAULT_TIMEZONE
    problem = timezone_problem(tz)
    if problem is not None:
        errors.append(problem)
        return DEFAULT_TIMEZONE
    return tz


def _suggestions(data: Mapping[str, Any], errors: list[str]) -> Suggestions:
    """[suggestions] enabled = true|false, threshold = 0 to 1; the default when left out."""
    raw = data.get("suggestions")
    if raw is None:
        return DEFAULT_SUGGESTIONS
    if not isinstance(raw, Mapping):
        errors.append("suggestions must be a table: [suggestions] enabled = true, threshold = 0.6")
        return DEFAULT_SUGGESTIONS
    unknown = sorted(str(k) for k in raw if k not in ("enabled", "threshold"))
    if unknown:
        errors.append(f"suggestions: unknown key {unknown[0]!r} (known: enabled, threshold)")
    enabled = raw.get("enabled", DEFAULT_SUGGESTIONS.enabled)
    if not isinstance(enabled, bool):
        errors.append(f"suggestions.enabled must be true or false, not {enabled!r}")
        enabled = DEFAULT_SUGGESTIONS.enabled
    threshold = raw.get("threshold", DEFAULT_SUGGESTIONS.threshold)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0 <= threshold <= 1)
    ):
        errors.append(f"suggestions.threshold must be a number from 0 to 1, not {threshold!r}")
        threshold = DEFAULT_SUGGESTIONS.threshold
    return Suggestions(enabled, float(threshold))


def _bant(data: Mapping[str, Any], errors: list[str]) -> tuple[Criterion, ...]:
    """The [[bant]] criteria, each key once; the default four when left out."""
    raw = data.get("bant")
    if raw is None:
        return DEFAULT_BANT
    if not isinstance(raw, list) or not raw:
        errors.append("bant must be a non-empty list of [[bant]] tables")
        return ()
    bant = [c for i, item in enumerate(raw, 1) if (c := _criterion(i, item, errors)) is not None]
    dupes = _repeated([c.key for c in bant])
    if dupes:
        errors.append(f"bant: key repeated: {', '.join(dupes)}")
    return tuple(bant)


def _criterion(i: int, item: Any, errors: list[str]) -> Criterion | None:
    """The i-th [[bant]] table as a criterion, or None (and why, in errors)."""
    if not isinstance(item, Mapping):
        errors.append(f"bant #{i}: expected a table")
        return None
    key = item.get("key")
    if key not in BANT_KEYS:
        errors.append(f"bant #{i}: key must be one of {', '.join(BANT_KEYS)}, not {key!r}")
        return None
    label = item.get("label") or key.capitalize()
    question = item.get("question") or ""
    if not isinstance(label, str) or not isinstance(question, str):
        errors.append(f"bant #{i} ({key}): label and question must be text")
        return None
    return Criterion(key, label, question)


def _reasons(
    data: Mapping[str, Any], name: str, default: tuple[Reason, ...], errors: list[str]
) -> tuple[Reason, ...]:
    """The [[reject_reasons]] or [[nurture_reasons]], each code once; the default when left out."""
    raw = data.get(name)
    if raw is None:
        return default
    if not isinstance(raw, list) or not raw:
        errors.append(f"{name} must be a non-empty list of [[{name}]] tables")
        return default
    out = [r for i, item in enumerate(raw, 1) if (r := _reason(name, i, item, errors)) is not None]
    dupes = _repeated([r.code for r in out])
    if dupes:
        errors.append(f"{name}: code repeated: {', '.join(dupes)}")
    for key in _repeated([r.key for r in out if r.key is not None]):
        codes = ", ".join(r.code for r in out if r.key == key)
        errors.append(
            f"{name}: key {key!r} is given to more than one reason ({codes}): the reason "
            "picker needs one reason per key"
        )
    return tuple(out)


def _reason(name: str, i: int, item: Any, errors: list[str]) -> Reason | None:
    """The i-th table of the list `name` as a reason, or None (and why, in errors)."""
    if not isinstance(item, Mapping):
        errors.append(f"{name} #{i}: expected a table")
        return None
    code = item.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        errors.append(
            f"{name} #{i}: code must be lower_snake_case (letters, digits, _), not {code!r}"
        )
        return None
    label = item.get("label") or code.replace("_", " ").capitalize()
    linked = item.get("bant")
    if linked is not None and linked not in BANT_KEYS:
        errors.append(f"{name} #{i} ({code}): bant must be one of {', '.join(BANT_KEYS)}")
        return None
    note_required = item.get("note_required", False)
    if not isinstance(note_required, bool):
        errors.append(f"{name} #{i} ({code}): note_required must be true or false")
        return None
    key = _picker_key(item.get("key"))
    if key is False:
        errors.append(
            f"{name} #{i} ({code}): key must be one digit or one letter (a-z), "
            f"not {item.get('key')!r}"
        )
        return None
    unknown = set(item) - _REASON_KEYS
    if unknown:  # said, but the reason is still read
        errors.append(f"{name} #{i} ({code}): unknown key(s) {', '.join(sorted(unknown))}")
    return Reason(code, str(label), linked, note_required, key)


def _picker_key(raw: Any) -> str | None | bool:
    """A reason's `key` as the picker uses it (a digit or a lowercase letter; a TOML
    number 0-9 is its digit), None when not given, False when it cannot be one."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 9:
        raw = str(raw)
    if not isinstance(raw, str) or not _PICKER_KEY.match(raw.lower()):
        return False
    return raw.lower()


def load_policy_toml(text: str, *, where: str = "policy file") -> Policy:
    """Parse an organisation's policy from TOML text.

    ```toml
    sla_hours = 48
    [[reject_reasons]]
    code = "no_budget"
    label = "No budget"
    bant = "budget"
    key = "b"            # optional: the reason picker's key for it (a digit or a letter)
    ```
    Sections left out keep their defaults. Raises PolicyError with every problem.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML: {exc}", [f"not valid TOML: {exc}"]) from None
    data.pop("version", None)  # the server numbers policies itself
    return _policy_from_mapping(data, version=1, where=where)


def policy_toml(p: Policy) -> str:
    """The policy as a TOML file an organisation can edit and load back."""

    import json

    def q(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)

    out = [f"# qualification policy, version {p.version}", f"sla_hours = {p.sla_hours:g}"]
    out += [f"timezone = {q(p.timezone)}", ""]
    out += ["[suggestions]", f"enabled = {'true' if p.suggestions.enabled else 'false'}",
            f"threshold = {p.suggestions.threshold:g}", ""]  # fmt: skip
    for c in p.bant:
        out += [
            "[[bant]]",
            f"key = {q(c.key)}",
            f"label = {q(c.label)}",
            f"question = {q(c.question)}",
            "",
        ]
    for name, reasons in (
        ("reject_reasons", p.reject_reasons),
        ("nurture_reasons", p.nurture_reasons),
    ):
        for r in reasons:
            out += [f"[[{name}]]", f"code = {q(r.code)}", f"label = {q(r.label)}"]
            if r.bant:
                out.append(f"bant = {q(r.bant)}")
            if r.note_required:
                out.append("note_required = true")
            if r.key is not None:
                out.append(f"key = {q(r.key)}")
            out.append("")
    return "\n".join(out)
