"""The one list of a lead's fields, and its JSON form (protocol v1's; the store keeps it too).

`LEAD_FIELDS` is authoritative: the wire model (protocol.LeadWire), the server's table
(server.models.Lead), the import columns and the store's projection follow it, and
tests/domain/test_codec.py checks each of them against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from triage.domain.dates import format_time, parse_time
from triage.domain.lead import (
    Activity,
    Decision,
    Lead,
    PastDecision,
    Suggestion,
    outcome_of,
    status_of,
)


@dataclass(frozen=True, slots=True)
class LeadField:
    name: str
    # text | int | time | map | activities | bant | status | decision | history | suggestion
    kind: str
    required: bool = False
    imported: bool = False  # an import row may set it (as a column of the same name)
    # Left out of the JSON when None or empty (added to protocol v1 after it was first
    # written, or "no value" that an older client must not see as null: a missing score).
    optional_on_wire: bool = False


LEAD_FIELDS: tuple[LeadField, ...] = (
    LeadField("id", "text", required=True),
    LeadField("external_id", "text", required=True, imported=True),
    LeadField("version", "int", required=True),
    LeadField("name", "text", required=True, imported=True),
    LeadField("email", "text", required=True, imported=True),
    LeadField("phone", "text", imported=True),
    LeadField("title", "text", imported=True),
    LeadField("company", "text", imported=True),
    LeadField("industry", "text", imported=True),
    LeadField("company_size", "text", imported=True),
    LeadField("country", "text", imported=True),
    LeadField("source", "text", imported=True),
    LeadField("campaign", "text", imported=True),
    LeadField("score", "int", imported=True, optional_on_wire=True),
    LeadField("mql_at", "time", imported=True),
    LeadField("assigned_at", "time"),
    LeadField("owner", "text", imported=True),
    LeadField("evidence", "map"),
    LeadField("activities", "activities", imported=True),
    LeadField("bant", "bant"),
    LeadField("status", "status"),
    LeadField("decision", "decision"),
    LeadField("history", "history", optional_on_wire=True),
    LeadField("attributes", "map", imported=True, optional_on_wire=True),
    LeadField("duplicate_of", "map", optional_on_wire=True),
    LeadField("suggestion", "suggestion", optional_on_wire=True),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS)
TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in LEAD_FIELDS if f.kind == "text")
# The descriptive text a lead carries (what an import may set, besides ids and owner).
PROFILE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in LEAD_FIELDS
    if f.kind == "text" and f.imported and not f.required and f.name != "owner"
)  # fmt: skip


def decision_to_dict(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "outcome": outcome_of(d.outcome).value,
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
        outcome=outcome_of(d["outcome"]),
        reason=d.get("reason"),
        note=d.get("note"),
        at=parse_time(d["at"]),
        by=d.get("by"),
        nurture_until=date.fromisoformat(until) if until else None,
        id=d.get("id"),
    )


def _history_to_json(history: tuple[PastDecision, ...]) -> list[dict[str, Any]]:
    return [
        {"outcome": outcome_of(h.outcome).value, "reason": h.reason, "at": format_time(h.at),
         "by": h.by}
        for h in history
    ]  # fmt: skip


def _activities_to_json(activities: tuple[Activity, ...]) -> list[dict[str, Any]]:
    return [{"at": format_time(a.at), "kind": a.kind, "detail": a.detail} for a in activities]


def suggestion_to_dict(x: Suggestion | None) -> dict[str, Any] | None:
    if x is None:
        return None
    return {"outcome": outcome_of(x.outcome).value, "reason": x.reason,
            "confidence": x.confidence, "factors": list(x.factors)}  # fmt: skip


def suggestion_from_dict(d: Any) -> Suggestion | None:
    """None for no suggestion, or one this client cannot read (an outcome it does not know):
    a suggestion is advice, never a reason to refuse the lead."""
    if isinstance(d, list) and len(d) == 4:  # ("suggestion_list") as the pull sent it
        d = dict(zip(("outcome", "reason", "confidence", "factors"), d, strict=True))
    if not isinstance(d, dict):
        return None
    try:
        confidence = float(d["confidence"])
        return Suggestion(outcome_of(d["outcome"]), d.get("reason") or None, confidence,
                          tuple(str(f) for f in d.get("factors") or ()))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


def _activities(value: Any) -> tuple[Activity, ...]:
    return tuple(Activity(parse_time(a["at"]), a["kind"], a.get("detail", "")) for a in value or ())


def _history(value: Any) -> tuple[PastDecision, ...]:
    return tuple(
        PastDecision(outcome_of(h["outcome"]), h.get("reason"), parse_time(h["at"]), h.get("by"))
        for h in value or ()
    )


# How each kind of field goes to JSON and back, as an expression over `v`. The two
# converters below are made from LEAD_FIELDS once, at import, as plain functions: a loop
# over the list at every call cost twice the time on the pull path (10,000 leads a sync).
_TO_JSON = {
    "text": "{v}", "int": "{v}", "time": "_ft({v})", "map": "dict({v})", "bant": "dict({v})",
    "activities": "_acts_out({v})", "status": "_Status({v}).value", "decision": "_dec_out({v})",
    "history": "_hist_out({v})", "suggestion": "_sug_out({v})",
}  # fmt: skip
_FROM_JSON = {
    "text": "{v}", "int": "{v}", "time": "_time({v})", "map": "dict({v} or {{}})",
    "bant": "dict({v} or {{}})", "activities": "_acts_in({v})",
    "status": "_Status({v} or 'open')", "decision": "_dec_in({v})", "history": "_hist_in({v})",
    "suggestion": "_sug_in({v})",
}  # fmt: skip


def _compile() -> tuple[Any, Any]:
    out_lines, in_items, optional = ["def lead_to_dict(lead):", "    d = {"], [], []
    for f in LEAD_FIELDS:
        expr = _TO_JSON[f.kind].format(v=f"lead.{f.name}")
        if f.optional_on_wire:
            test = f"lead.{f.name} is not None" if f.kind == "int" else f"lead.{f.name}"
            optional += [f"    if {test}:", f"        d[{f.name!r}] = {expr}"]
        else:
            out_lines.append(f"        {f.name!r}: {expr},")
        value = f"d[{f.name!r}]" if f.required else f"d.get({f.name!r})"
        in_items.append(f"        {f.name}={_FROM_JSON[f.kind].format(v=value)},")
    out_lines += ["    }", *optional, "    return d"]
    source = "\n".join(out_lines) + "\n\ndef lead_from_dict(d):\n    return _Lead(\n"
    source += "\n".join(in_items) + "\n    )\n"
    scope = {
        "_ft": format_time, "_acts_out": _activities_to_json, "_Status": status_of,
        "_dec_out": decision_to_dict, "_hist_out": _history_to_json, "_time": _time,
        "_acts_in": _activities, "_dec_in": decision_from_dict, "_hist_in": _history,
        "_Lead": Lead, "_sug_out": suggestion_to_dict, "_sug_in": suggestion_from_dict,
    }  # fmt: skip
    exec(compile(source, "<triage.domain.codec>", "exec"), scope)  # noqa: S102
    return scope["lead_to_dict"], scope["lead_from_dict"]


_lead_to_dict, _lead_from_dict = _compile()


def lead_to_dict(lead: Lead) -> dict[str, Any]:
    """A lead as the JSON object of protocol v1 (the store keeps leads in this form too);
    a field marked optional_on_wire is left out when empty (a score when None)."""
    return _lead_to_dict(lead)


def lead_from_dict(d: dict[str, Any]) -> Lead:
    return _lead_from_dict(d)


__all__ = [
    "FIELD_NAMES", "LEAD_FIELDS", "PROFILE_FIELDS", "TEXT_FIELDS", "LeadField",
    "decision_from_dict", "decision_to_dict", "lead_from_dict", "lead_to_dict",
    "suggestion_from_dict", "suggestion_to_dict",
]  # fmt: skip
