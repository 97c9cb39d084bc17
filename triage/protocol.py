"""Wire models of sync protocol v1, shared by the client's sync and the server.

These are the JSON shapes on the wire (pydantic); `domain` holds the types the
rest of the program works with, and the two converters at the bottom translate.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, NotRequired
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    model_serializer,
)
from typing_extensions import TypedDict

from triage import domain

PROTOCOL_VERSION = 1
MAX_PULL_LIMIT = 1000
DEFAULT_PULL_LIMIT = 500
MAX_PUSH_MUTATIONS = 1000
MAX_UPSERT_LEADS = 10_000
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_NOTE = 2000

# What this server offers beyond protocol v1 as first written; listed by GET /v1/health.
# A client sends a new request field, mutation type or value only to a server that lists
# the feature (an older server refuses unknown mutation fields: never send them blind).
# - "assign_force": POST /v1/leads/{id}/assign takes "force": true (a decided lead is
#   reassigned and reopened). An older server ignores the field and reassigns anyway.
# - "history_check": GET /v1/sync/pull and /v1/feedback take `digest`, the
#   `cursor_digest` the last answer gave; a cursor from another history (the server was
#   restored) answers `reset`. Answers carry server_id, epoch and cursor_digest.
# - "origin": a mutation may carry `origin` (a decide's identity when it is not
#   "client_id:seq": one sent again after a restore keeps that of its first sending, and
#   one numbered after a restore with a number that once named another decision gets a
#   number the client never used) and `reopens` (the decision id a reopen undoes); a
#   decision carries its `id`; feedback events carry `event_id` and `decision_id`.
# - "lookup": POST /v1/sync/lookup answers the current state of given leads of the rep.
# - "push_patch": POST /v1/sync/push takes `"patch": true`; the result of a mutation applied
#   to the lead as the client last had it (its base_version, nothing else changed since)
#   then carries `patch` ({id, version, status, bant, decision}) in place of the whole
#   `lead`. An older server ignores the field and answers whole leads.
# - "own_changes": GET /v1/sync/pull takes `own=true` (with client_id and a cursor past 0);
#   a lead whose last change was this client's own decision or undo then comes as
#   {id, version} in `own`, not whole in `leads` (the push answered it already). A client
#   that does not hold that version fetches the lead (lookup).
# - "suggestions": a lead in the pull, the lookup and a push's answer may carry `suggestion`
#   ({outcome, reason, confidence, factors}: the server's model of the team's decisions,
#   made when the lead was assigned), sent only when the policy's `suggestions` are on
#   and its confidence reaches their threshold; the policy carries `suggestions`
#   ({enabled, threshold}) when not the default. Nothing to send: an older client ignores
#   both, an older server sends neither.
# - "suggestion_list": GET /v1/sync/pull takes `suggestion=list`; a lead's suggestion then
#   comes as the list [outcome, reason, confidence, factors] (a third fewer bytes than
#   the object: suggestions were a fifth of a pull). An older server ignores the parameter
#   and sends objects; this client reads both.
FEATURES: tuple[str, ...] = (
    "assign_force", "history_check", "origin", "lookup", "push_patch", "own_changes",
    "suggestions", "suggestion_list",
)  # fmt: skip
MAX_LOOKUP = 1000
MAX_DIGEST = 32

AnswerStr = Literal["yes", "no", "unknown"]
StatusStr = Literal["open", "accepted", "rejected", "nurture"]
OutcomeStr = Literal["accept", "reject", "nurture"]
MutationStatus = Literal["applied", "duplicate", "conflict", "invalid", "out_of_order"]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Health(Wire):
    status: str
    version: str
    protocol: int = PROTOCOL_VERSION
    # Optional: an older server sends none of these.
    server_id: str | None = None
    epoch: int | None = None
    features: list[str] = []


class Me(Wire):
    id: int
    email: str
    name: str
    role: Literal["rep", "marketing"]
    server_id: str | None = None  # optional: an older server sends neither
    epoch: int | None = None


class CriterionWire(Wire):
    key: str
    label: str
    question: str


class ReasonWire(Wire):
    code: str
    label: str
    bant: str | None = None
    note_required: bool = False
    # Optional: the reason picker's key for it (a digit or a letter), left out when the
    # policy gives none. An older client ignores it and numbers the reasons in order.
    key: str | None = None

    @model_serializer(mode="wrap")
    def _omit_no_key(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("key") is None:
            data.pop("key", None)
        return data


class SuggestionsWire(Wire):
    enabled: bool = True
    threshold: float = Field(0.6, ge=0, le=1)


class PolicyWire(Wire):
    version: int
    sla_hours: float
    bant: list[CriterionWire]
    reject_reasons: list[ReasonWire]
    nurture_reasons: list[ReasonWire]
    # Optional: the organisation's time zone for reports; left out when UTC (and by an
    # older server). A client does not need it.
    timezone: str | None = None
    # Optional ("suggestions"): left out when the default (on, from 0.6).
    suggestions: SuggestionsWire | None = None

    def to_domain(self) -> domain.Policy:
        return domain.Policy.from_dict(self.model_dump(), version=self.version)


class ActivityWire(TypedDict):
    """One of a lead's activities; a checked dict, not a model: three a lead, made as
    models they were half of a 10,000-lead pull's checking. Unknown keys are dropped."""

    at: datetime
    kind: str
    detail: NotRequired[str]  # "" when left out


class DecisionWire(Wire):
    outcome: OutcomeStr
    reason: str | None = None
    note: str | None = None
    at: datetime
    by: str | None = None
    nurture_until: date | None = None
    id: str | None = None  # optional ("origin"): "client_id:seq" of its first sending


class HistoryWire(Wire):
    """A decision of an earlier cycle, set aside when marketing reassigned the decided lead:
    what the new owner may see of it (never the note)."""

    outcome: OutcomeStr
    reason: str | None = None
    at: datetime
    by: str | None = None


class SuggestionWire(Wire):
    """("suggestions") The server's suggested verdict for a lead; advice for the rep."""

    outcome: OutcomeStr
    reason: str | None = None
    confidence: float = Field(ge=0, le=1)
    factors: list[str] = Field(default_factory=list)


# ("suggestion_list") A suggestion as a list: [outcome, reason, confidence, factors].
SuggestionList = tuple[OutcomeStr, str | None, Annotated[float, Field(ge=0, le=1)], list[str]]


class LeadWire(Wire):
    # Empty containers by factory, not by a default pydantic deep-copies for every lead
    # that leaves the field out (a third of a 10,000-lead pull's parsing).
    id: str
    external_id: str
    version: int
    name: str
    email: str
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    company_size: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    # Optional: left out for a lead with no score (an older client reads 0).
    score: int | None = Field(None, ge=0, le=100)
    mql_at: datetime | None = None
    assigned_at: datetime | None = None
    owner: str | None = None
    evidence: dict[str, str] = Field(default_factory=dict)
    activities: list[ActivityWire] = Field(default_factory=list)
    bant: dict[str, AnswerStr] = Field(default_factory=dict)
    status: StatusStr = "open"
    decision: DecisionWire | None = None
    # Optional (left out when empty; an older server never sends it, an older client
    # ignores it): earlier cycles' decisions, oldest first.
    history: list[HistoryWire] = Field(default_factory=list)
    # Optional (left out when empty; an older client ignores them): what marketing's file
    # said beyond Triage's fields (text, numbers, true/false; dates as ISO 8601 text), and
    # the open lead with the same email this one may duplicate ({id, external_id, name,
    # owner}).
    attributes: dict[str, StrictBool | StrictInt | float | str] = Field(default_factory=dict)
    duplicate_of: dict[str, str] = Field(default_factory=dict)
    # Optional ("suggestions"; left out when none): the server's suggested verdict, as an
    # object or ("suggestion_list", asked for) a list.
    suggestion: SuggestionList | SuggestionWire | None = Field(None, union_mode="left_to_right")


class OwnChange(Wire):
    """("own_changes") A lead of the page whose last change was the client's own."""

    id: str
    version: int


class PullResponse(Wire):
    leads: list[LeadWire]
    revoked: list[str]
    # Optional ("own_changes", asked for): leads last changed by this client's own
    # decision or undo, by id and version.
    own: list[OwnChange] = Field(default_factory=list)
    cursor: int = Field(ge=0)
    has_more: bool
    policy_version: int
    last_seq: int = Field(0, ge=0)
    reset: bool = False
    # Optional ("history_check"): who answered, and the digest of the change at `cursor`
    # to present with it next time.
    server_id: str | None = None
    epoch: int | None = None
    cursor_digest: str | None = None


class Origin(Wire):
    """Where a decision was first sent from: the identity it keeps when sent again."""

    model_config = ConfigDict(extra="forbid")
    client_id: UUID
    seq: StrictInt = Field(ge=1)


class Mutation(Wire):
    """One rep action. Named by (client_id, seq); seq runs 1, 2, 3, ... per client."""

    model_config = ConfigDict(extra="forbid")

    seq: StrictInt = Field(ge=1)
    lead_id: str = Field(min_length=1, max_length=64)
    type: Literal["decide", "bant", "reopen"]
    outcome: OutcomeStr | None = None
    reason: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=MAX_NOTE)
    bant: dict[str, AnswerStr] | None = None
    nurture_until: date | None = None
    at: datetime
    base_version: int | None = None
    # Sent only to a server that lists "origin" (an older one refuses unknown fields).
    origin: Origin | None = None  # decide: its identity, when not client_id:seq (restores)
    reopens: str | None = Field(None, max_length=80)  # reopen: the decision id it undoes


class MutationEnvelope(Wire):
    """What the server needs to order a mutation before it reads the rest of it."""

    model_config = ConfigDict(extra="allow")
    seq: StrictInt = Field(ge=1)  # true or 1.0 is not a seq


class PushRequest(Wire):
    client_id: UUID
    mutations: list[MutationEnvelope] = Field(max_length=MAX_PUSH_MUTATIONS)
    # Optional ("push_patch"): answer a mutation applied to the lead as the client had it
    # with `patch` rather than the whole lead. Sent only to a server that lists the feature.
    patch: bool = False


class LeadPatch(Wire):
    """("push_patch") A lead's changeable part after a mutation that was its only change
    since the client's base_version: the rest of the lead is as the client has it."""

    id: str
    version: int
    status: StatusStr
    bant: dict[str, AnswerStr] = Field(default_factory=dict)
    decision: DecisionWire | None = None


class MutationResult(Wire):
    seq: int
    status: MutationStatus
    error: str | None = None
    lead: LeadWire | None = None
    # With `duplicate`: what the first processing of this seq answered.
    stored: Literal["applied", "conflict", "invalid"] | None = None
    # Optional ("push_patch", asked for): in place of `lead`, what the mutation changed.
    patch: LeadPatch | None = None


class PushResponse(Wire):
    results: list[MutationResult]
    last_seq: int
    server_id: str | None = None  # optional ("history_check")
    epoch: int | None = None


class LookupRequest(Wire):
    lead_ids: list[str] = Field(max_length=MAX_LOOKUP)


class LookupResponse(Wire):
    """The current state of the asked leads that are the caller's; the others in
    `missing` (unknown, or assigned to someone else: nothing is said about them)."""

    leads: list[LeadWire]
    missing: list[str]
    last_seq: int = Field(0, ge=0)
    server_id: str | None = None
    epoch: int | None = None


class UpsertRequest(Wire):
    leads: list[dict[str, Any]] = Field(max_length=MAX_UPSERT_LEADS)


class UpsertResponse(Wire):
    created: int
    updated: int
    unchanged: int = 0


class AssignRequest(Wire):
    owner: str
    # Optional: reassign a decided lead, which starts a new cycle (status open, the
    # decision moved to the lead's history). Without it a decided lead is refused (409).
    force: bool = False


class FeedbackEvent(Wire):
    cursor: int
    lead_id: str
    external_id: str
    # Consumers ignore kinds they do not know; kinds are added, never renamed.
    # "reassign": marketing reassigned a decided lead (--force); its decision no longer
    # stands and the lead is open again for `rep`, the new owner.
    # "recycle": an import brought a newer MQL of a nurtured or rejected lead: a new cycle;
    # the decision of `rep` (who made it) no longer stands and the lead is open again.
    kind: Literal["decide", "reopen", "reassign", "recycle"]
    outcome: OutcomeStr | None = None
    reason: str | None = None
    note: str | None = None
    nurture_until: date | None = None
    rep: str
    campaign: str | None = None
    source: str | None = None
    at: datetime
    received_at: datetime
    # Optional ("origin"): unique and stable across retries and restores; a consumer
    # drops an event_id it has seen. decision_id names the decision a decide or reopen
    # event is about (the same when a rep sends a decision again after a restore).
    event_id: str | None = None
    decision_id: str | None = None


class FeedbackResponse(Wire):
    events: list[FeedbackEvent]
    cursor: int
    has_more: bool
    # Optional ("history_check"): as in the pull.
    reset: bool = False
    server_id: str | None = None
    epoch: int | None = None
    cursor_digest: str | None = None


class ReasonCount(Wire):
    code: str | None
    label: str
    count: int


class ReportRow(Wire):
    """One group of the qualification report. Definitions (README): decided = accepted +
    rejected + nurtured; acceptance_rate = accepted / decided; the median time to decision
    runs from the deciding rep's latest assignment to the first decision."""

    key: str | None
    mqls: int
    open: int
    accepted: int
    rejected: int
    nurtured: int
    acceptance_rate: float | None
    median_hours_to_decision: float | None
    reasons: dict[str, int] = Field(
        deprecated=True,
        description="Deprecated: rejection and nurture reasons in one map, by code. Use "
        "reject_reasons and nurture_reasons.",
    )
    # Added fields (optional: an older server sends none of them).
    decided: int | None = None
    sla_compliance: float | None = Field(
        default=None, description="Share of decisions made within the policy's sla_hours"
    )
    open_past_sla: int | None = None
    reject_reasons: list[ReasonCount] | None = None
    nurture_reasons: list[ReasonCount] | None = None


class Report(Wire):
    by: Literal["campaign", "source", "rep"]
    rows: list[ReportRow]
    sla_hours: float | None = None


# ---------------------------------------------------------------- wire <-> domain


def _aware(dt: datetime | None) -> datetime | None:
    return None if dt is None else domain.parse_time(dt)


def _decision_from_wire(d: DecisionWire | None) -> domain.Decision | None:
    if d is None:
        return None
    return domain.Decision(
        outcome=domain.outcome_of(d.outcome),
        reason=d.reason,
        note=d.note,
        at=domain.parse_time(d.at),
        by=d.by,
        nurture_until=d.nurture_until,
        id=d.id,
    )


def patch_from_wire(w: LeadPatch) -> domain.LeadState:
    return domain.LeadState(
        id=w.id,
        version=w.version,
        status=domain.status_of(w.status),
        bant=dict(w.bant),
        decision=_decision_from_wire(w.decision),
    )


def lead_json(w: LeadWire) -> str:
    """A checked wire lead as JSON text the store may keep as the lead's server state (the
    fields this client knows, by pydantic's core: encoding the lead again in Python was a
    third of a 10,000-lead first pull). Read back by domain.lead_from_dict, it is the lead
    that lead_from_wire makes (tests/sync/test_pull_json.py)."""
    return w.model_dump_json()


def lead_from_wire(w: LeadWire) -> domain.Lead:
    return domain.Lead(
        id=w.id,
        external_id=w.external_id,
        version=w.version,
        name=w.name,
        email=w.email,
        phone=w.phone,
        title=w.title,
        company=w.company,
        industry=w.industry,
        company_size=w.company_size,
        country=w.country,
        source=w.source,
        campaign=w.campaign,
        score=w.score,
        mql_at=_aware(w.mql_at),
        assigned_at=_aware(w.assigned_at),
        owner=w.owner,
        evidence=dict(w.evidence),
        activities=tuple(
            domain.Activity(domain.parse_time(a["at"]), a["kind"], a.get("detail", ""))
            for a in w.activities
        ),
        bant=dict(w.bant),
        status=domain.status_of(w.status),
        decision=_decision_from_wire(w.decision),
        history=tuple(
            domain.PastDecision(
                domain.outcome_of(h.outcome), h.reason, domain.parse_time(h.at), h.by
            )
            for h in w.history
        ),
        attributes=dict(w.attributes),
        duplicate_of=dict(w.duplicate_of),
        suggestion=None if w.suggestion is None else _suggestion_from_wire(w.suggestion),
    )


def _suggestion_from_wire(x: SuggestionList | SuggestionWire) -> domain.Suggestion:
    if isinstance(x, tuple):
        outcome, reason, confidence, factors = x
        return domain.Suggestion(domain.outcome_of(outcome), reason, confidence, tuple(factors))
    return domain.Suggestion(domain.outcome_of(x.outcome), x.reason, x.confidence, tuple(x.factors))
