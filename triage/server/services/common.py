"""What every part of the server's services shares: errors, callers, tokens, a lead as JSON."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

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


def suggestion_wire(stored: dict[str, Any]) -> dict[str, Any]:
    """A lead's stored suggestion as a rep is sent it (not which model made it)."""
    return {k: stored.get(k) for k in ("outcome", "reason", "confidence", "factors")}


def history_wire(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier cycles as the lead's owner sees them: outcome, reason, when and who; never
    the note (it was written for another rep's cycle)."""
    return [{k: h.get(k) for k in ("outcome", "reason", "at", "by")} for h in history]
