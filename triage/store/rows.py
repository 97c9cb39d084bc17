"""The queue's projection of a lead (the `leads` table), and a lead's view: its server
state with its pending changes replayed by the one rule (domain.apply)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from triage import domain
from triage.domain import BANT_KEYS
from triage.store.common import (
    _BANT_COLUMNS,
    _BANT_SQL,
    _NO_ACCOUNT,
    _NO_TIME,
    _UNKNOWN,
    _dumps,
    _epoch,
    _marks,
)


def _search_text(lead: domain.Lead) -> str:
    """What free words of a filter match: folded like the words (domain.fold)."""
    parts = (lead.name, lead.company, lead.title, lead.email, lead.campaign, lead.source)
    return domain.fold("\n".join(p for p in parts if p))


def _key(value: str | None) -> str | None:
    return domain.fold(value) or None if value else None


def _email_key(email: str | None) -> str | None:
    """An email as duplicates compare it: trimmed, case folded (as the server's import)."""
    return (email or "").strip().casefold() or None


def _attributes_key(attributes: dict[str, Any]) -> str | None:
    """A lead's attributes as `attr:` filters compare them: {key: folded text} (JSON)."""
    if not attributes:
        return None
    return _dumps({k: domain.attribute_text(v) for k, v in attributes.items()})


def _replay(
    server: dict[str, Any], rows: Iterable[tuple[str, dict[str, Any], str | None]]
) -> tuple[str, dict[str, str], dict[str, Any] | None]:
    """The local view (status, bant, decision) of a server lead (as a dict) with its
    outbox rows (type, payload, actor) applied in order, by the one rule the server
    applies too (domain.apply)."""
    status: str = server["status"]
    bant: dict[str, str] = dict(server.get("bant") or {})
    decision: dict[str, Any] | None = server.get("decision")
    for kind, payload, actor in rows:
        status, bant, decision = domain.apply(
            status, bant, decision, {**payload, "type": kind}, by=actor
        )
    return status, bant, decision


def _suggestion_key(x: domain.Suggestion | None) -> tuple[str | None, float | None]:
    """A suggestion as the queue's projection holds it: ("reject not_icp_fit", 0.91)."""
    if x is None:
        return None, None
    outcome = domain.outcome_of(x.outcome).value
    return (f"{outcome} {x.reason}" if x.reason else outcome), x.confidence


def _suggestion_of(text: str | None, confidence: float | None) -> domain.Suggestion | None:
    """The projection's suggestion back (no factors: the lead's screen reads them)."""
    if text is None or confidence is None:
        return None
    outcome, _, reason = text.partition(" ")
    try:
        return domain.Suggestion(domain.outcome_of(outcome), reason or None, confidence)
    except ValueError:
        return None


def _queue_view(status: str, bant: dict[str, str]) -> tuple[str, ...]:
    return (status, *(bant.get(k, _UNKNOWN) for k in BANT_KEYS))


def _lead_row(
    lead: domain.Lead, text: str | None = None
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The `leads` and `lead_server` rows of a server lead (its view = its server state);
    `text`: the lead's JSON when the caller has it already."""
    status = domain.status_of(lead.status).value
    mql = _epoch(lead.mql_at)
    sla = _epoch(domain.sla_start(lead.assigned_at, lead.mql_at))
    account = domain.account_key(lead.email, lead.company)
    row = (
        lead.id,
        lead.version,
        lead.name,
        lead.title,
        lead.company,
        lead.source,
        lead.campaign,
        _key(lead.source),
        _key(lead.campaign),
        lead.score,
        mql,
        _NO_TIME if mql is None else mql,
        sla,
        _NO_TIME if sla is None else sla,
        lead.name.casefold(),
        (lead.company or "\U0010ffff").casefold(),  # no company sorts last
        _search_text(lead),
        lead.external_id,
        _attributes_key(lead.attributes),
        account,
        account or _NO_ACCOUNT,
        _email_key(lead.email),
        *_suggestion_key(lead.suggestion),
        status,
        *(lead.bant.get(k, _UNKNOWN) for k in BANT_KEYS),
    )
    if text is None:
        text = _dumps(domain.lead_to_dict(lead))
    return row, (lead.id, lead.version, text)


_LEAD_COLUMNS = (
    "id", "version", "name", "title", "company", "source", "campaign", "source_key",
    "campaign_key", "score", "mql_at", "mql_sort", "sla_at", "sla_sort", "name_key",
    "company_key", "search", "external_id", "attributes_key", "account_key",
    "account_sort", "email_key", "suggestion", "suggestion_confidence", "status",
    *_BANT_COLUMNS.values(),
)  # fmt: skip

_UPSERT_LEAD = (
    f"INSERT INTO leads ({', '.join(_LEAD_COLUMNS)}) VALUES ({_marks(len(_LEAD_COLUMNS))}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _LEAD_COLUMNS[1:])
)

_UPSERT_SERVER = (
    "INSERT INTO lead_server (id, version, json) VALUES (?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET version = excluded.version, json = excluded.json"
)

_SET_VIEW = (
    "UPDATE leads SET status = ?, "
    + ", ".join(f"{c} = ?" for c in _BANT_COLUMNS.values())
    + " WHERE id = ?"
)

_QUEUE_COLUMNS = (
    f"id, name, title, company, source, campaign, score, mql_at, status, {_BANT_SQL}, "
    "sla_at, account_key, "
    "EXISTS (SELECT 1 FROM outbox WHERE outbox.lead_id = leads.id), suggestion, "
    "suggestion_confidence"
)
