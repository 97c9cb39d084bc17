"""What a rep's change does to a lead (the one rule), and the server's refusals in words.

`apply` is used by the client's store (a lead's view: its server state with its pending
changes replayed), by the server (inside its authorisation, validation, clamping, events
and versioning) and by the tests' models, so the three can never drift apart. It works on
the JSON form of the lead's changeable part (triage.domain.codec), which is what the
store and the server hold: `status`, `bant`, `decision`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from triage.domain.lead import Outcome, Status, outcome_of

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


def apply(
    status: str,
    bant: Mapping[str, str],
    decision: dict[str, Any] | None,
    change: Mapping[str, Any],
    *,
    by: str | None,
    decision_id: str | None = None,
) -> tuple[str, dict[str, str], dict[str, Any] | None]:
    """The lead's (status, bant, decision) after `change` (a mutation's fields: type,
    outcome, reason, note, bant, nurture_until, at), made by `by`.

    decide: the outcome's status and a new decision (an accept has no reason; a re-entry
    date goes with nurture only); BANT answers sent with it are merged. bant: the answers
    merged. reopen: open, no decision. Whether the change is allowed (the lead's owner,
    the policy, an open lead) is the caller's to check before."""
    kind = change["type"]
    answers = dict(bant)
    if change.get("bant"):
        answers.update(change["bant"])
    if kind == "decide":
        outcome = outcome_of(change["outcome"])
        until = change.get("nurture_until") if outcome is Outcome.NURTURE else None
        made = {
            "outcome": outcome.value,
            "reason": change.get("reason") if outcome is not Outcome.ACCEPT else None,
            "note": change.get("note"),
            "at": change["at"],
            "by": by,
            "nurture_until": until.isoformat() if isinstance(until, date) else until,
        }
        if decision_id is not None:
            made["id"] = decision_id
        return outcome.status.value, answers, made
    if kind == "reopen":
        return Status.OPEN.value, answers, None
    if kind == "bant":
        return status, answers, decision
    raise ValueError(f"unknown change type {kind!r}")
