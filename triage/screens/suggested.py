"""Taking the server's suggestion with one key, through the usual decision flow.

The key asks for exactly what the suggested decision would ask if the rep made it by
hand: an accept is an accept (a BANT "no" still asks "Accept anyway?"); a rejection or a
nurture opens the reason picker with the suggested reason highlighted, so the rep still
confirms it (enter) or picks another. Nothing is ever decided without the rep. A lead
with no suggestion the policy shows (none, turned off, below the threshold) changes
nothing and says so.
"""

from __future__ import annotations

from textual.binding import Binding

from triage import domain
from triage.screens.messages import DecisionRequested

SUGGESTION_BINDING = Binding(
    "f", "take_suggestion", "Suggested", id="take_suggestion", show=False,
    tooltip="Follow the suggestion: accept it, or open the reason picker on the suggested "
            "reason (enter confirms it)",
)  # fmt: skip


def suggested_request(lead: domain.Lead | None, policy: domain.Policy) -> DecisionRequested | str:
    """The decision request that follows `lead`'s suggestion, or why there is none."""
    if lead is None:
        return "No lead to decide"
    if lead.status is not domain.Status.OPEN:
        return "This lead is decided already: nothing to follow"
    x = lead.suggestion
    if x is None or not policy.suggestions.shows(x.confidence):
        if x is not None and not policy.suggestions.enabled:
            return "Suggestions are turned off by the policy: nothing to follow"
        return "No suggestion for this lead: nothing to follow"
    reason = x.reason if x.outcome is not domain.Outcome.ACCEPT else None
    if reason is not None and reason not in {r.code for r in policy.reasons_for(x.outcome)}:
        reason = None  # a reason the policy no longer has: the picker starts at the top
    return DecisionRequested(x.outcome, [lead.id], reason=reason)
