"""What every part of the server's services shares: errors, callers, tokens, a lead as JSON."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Text, cast, type_coerce

from triage import domain
from triage.server import models

log = logging.getLogger("triage.server")

CHUNK = 500

TOKEN_BYTES = 32


class ServiceError(Exception):
    """An error with a protocol code and an HTTP status; the message is for people."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class RowProblems(ServiceError):
    """Rows that cannot be imported: [(row label, [problems])]. Nothing was written."""

    def __init__(self, problems: list[tuple[str, list[str]]]):
        self.problems = problems
        lines = [f"{label}: {'; '.join(p)}" for label, p in problems]
        super().__init__(422, "invalid_rows", "\n".join(lines))


@dataclass(frozen=True, slots=True)
class Identity:
    server_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Caller:
    id: int
    email: str
    name: str
    role: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a token: never the secret, never its hash."""

    id: str
    email: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str  # active | revoked | expired | user deactivated


def _caller(u: models.User) -> Caller:
    assert u.id is not None
    return Caller(u.id, u.email, u.name, u.role, u.active)


def _token_info(t: models.Token, u: models.User, now: datetime) -> TokenInfo:
    expires_at = _utc(t.expires_at)
    if t.revoked_at is not None:
        state = "revoked"
    elif expires_at is not None and expires_at <= now:
        state = "expired"
    elif not u.active:
        state = "user deactivated"
    else:
        state = "active"
    return TokenInfo(
        t.public_id, u.email, _utc(t.created_at) or now, _utc(t.last_used_at), expires_at,
        _utc(t.revoked_at), state,
    )  # fmt: skip


LAST_USED_EVERY = timedelta(minutes=1)  # a token's last use is written at most this often

TOKEN_PREFIX = "trg_"


def new_token() -> str:
    """32 random bytes behind a fixed prefix: the prefix lets secret scanners spot a leaked
    token, and keeps it from starting with "-", which a command line would take for an option."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(dt: datetime | None) -> datetime | None:
    """Aware UTC (a naive time is taken as UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


_iso = domain.format_time


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def lead_wire(
    row: Any, owner_email: str | None, suggestions: domain.Suggestions | None = None
) -> dict[str, Any]:
    """A server lead (ORM object, row or record with the lead's columns) as protocol v1 JSON.
    `suggestions`: the policy's, for a rep's answer: its suggestion when they show it."""
    found = getattr(row, "suggestion", None) if suggestions is not None else None
    return {
        "id": row.id,
        "external_id": row.external_id,
        "version": row.version,
        "name": row.name,
        "email": row.email,
        "phone": row.phone,
        "title": row.title,
        "company": row.company,
        "industry": row.industry,
        "company_size": row.company_size,
        "country": row.country,
        "source": row.source,
        "campaign": row.campaign,
        "mql_at": _iso(row.mql_at),
        "assigned_at": _iso(row.assigned_at),
        "owner": owner_email,
        "evidence": row.evidence,
        "activities": row.activities,
        "bant": row.bant,
        "status": row.status,
        "decision": row.decision,
        **({"history": history_wire(row.history)} if row.history else {}),
        # Optional on the wire: left out when empty (an unscored lead has no "score").
        **({"score": row.score} if row.score is not None else {}),
        **({"attributes": row.attributes} if row.attributes else {}),
        **({"duplicate_of": row.duplicate_of} if row.duplicate_of else {}),
        **(
            {"suggestion": suggestion_wire(found)}
            if found and suggestions.shows(found.get("confidence"))
            else {}
        ),  # fmt: skip
    }


# A lead as a rep's pull and lookup send it, made as JSON text from its row (wire_columns)
# without decoding its JSON columns: their stored text goes into the answer as it is. The
# same JSON as lead_wire's (tests/server/test_lead_wire_text.py); decoding and re-encoding
# those eight columns was most of a 10,000-lead pull's time on the server.
_LEAD = models.Lead.__table__
_WIRE_SCALARS = (
    "id", "external_id", "version", "name", "email", "phone", "title", "company", "industry",
    "company_size", "country", "source", "campaign", "score", "status",
)  # fmt: skip
_WIRE_JSON = ("evidence", "activities", "bant", "decision", "history", "attributes",
              "duplicate_of")  # fmt: skip
_EMPTY_JSON = (None, "null", "{}", "[]")


def wire_columns(dialect: str, listed: bool = False) -> list[Any]:
    """The columns lead_wire_text reads, in its order: the JSON ones as their stored text,
    a suggestion as it is sent (`listed`: as a list, "suggestion_list") and its confidence
    (the columns written with it: models.suggestion_columns); on SQLite the two times as
    their stored text too."""
    raw = [cast(_LEAD.c[name], Text).label(name) for name in _WIRE_JSON]
    if dialect == "postgresql":
        times = [_LEAD.c.mql_at, _LEAD.c.assigned_at]
    else:
        times = [type_coerce(_LEAD.c[name], Text).label(name) for name in ("mql_at", "assigned_at")]
    return [
        *(_LEAD.c[name] for name in _WIRE_SCALARS), *times, *raw,
        (_LEAD.c.suggestion_list if listed else _LEAD.c.suggestion_sent).label("suggestion_sent"),
        _LEAD.c.suggestion_confidence,
    ]  # fmt: skip


def lead_wire_text(
    row: Any, owner_email: str | None, suggestions: domain.Suggestions | None = None
) -> str:
    """lead_wire's JSON, as text, of a row of wire_columns (and any more columns after)."""
    (id_, external_id, version, name, email, phone, title, company, industry, company_size,
     country, source, campaign, score, status, mql_at, assigned_at, evidence, activities, bant,
     decision, history, attributes, duplicate_of, sent, confidence, *_) = row  # fmt: skip
    head = _encode({
        "id": id_, "external_id": external_id, "version": version, "name": name,
        "email": email, "phone": phone, "title": title, "company": company,
        "industry": industry, "company_size": company_size, "country": country,
        "source": source, "campaign": campaign, "mql_at": _time_text(mql_at),
        "assigned_at": _time_text(assigned_at), "owner": owner_email, "status": status,
    })  # fmt: skip
    parts = [
        head[:-1], ',"evidence":', evidence or "null", ',"activities":', activities or "null",
        ',"bant":', bant or "null", ',"decision":', decision or "null",
    ]  # fmt: skip
    if history not in _EMPTY_JSON:  # decoded: the notes stay out
        parts += [',"history":', _encode(history_wire(json.loads(history)))]
    if score is not None:
        parts += [',"score":', str(score)]
    if attributes not in _EMPTY_JSON:
        parts += [',"attributes":', attributes]
    if duplicate_of not in _EMPTY_JSON:
        parts += [',"duplicate_of":', duplicate_of]
    if suggestions is not None and sent is not None and suggestions.shows(confidence):
        parts += [',"suggestion":', sent]
    parts.append("}")
    return "".join(parts)


def _time_text(value: datetime | str | None) -> str | None:
    """A time as format_time writes it, of a datetime or of SQLite's stored text of a UTC
    time ("2026-11-22 10:00:00.000000": no fraction when it is zero)."""
    if value is None or not isinstance(value, str):
        return _iso(value)
    fraction = value[19:]
    return f"{value[:10]}T{value[11:19]}{'' if fraction.strip('.0') == '' else fraction}Z"


_encode = models.compact_json


def answer_json(answer: dict[str, Any], texts: str = "leads") -> bytes:
    """An answer whose `texts` are JSON texts already (lead_wire_text), as JSON."""
    rest = _encode({k: v for k, v in answer.items() if k != texts})
    return f'{{"{texts}":[{",".join(answer[texts])}],{rest[1:]}'.encode()


def suggestion_wire(stored: dict[str, Any]) -> dict[str, Any]:
    """A lead's stored suggestion as a rep is sent it (not which model made it)."""
    return {k: stored.get(k) for k in ("outcome", "reason", "confidence", "factors")}


def history_wire(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier cycles as the lead's owner sees them: outcome, reason, when and who; never
    the note (it was written for another rep's cycle)."""
    return [{k: h.get(k) for k in ("outcome", "reason", "at", "by")} for h in history]
