"""Web sessions and single-use sign-in codes (tables of migration 0006).

A browser signs in once, with a marketing token pasted into the sign-in form or a
single-use code, and gets a random session secret in an HttpOnly cookie; the database
keeps only the secret's SHA-256, the user, the token it came from and a CSRF secret for
its forms. Every request checks the session against the database, so it ends at once
when its token is revoked or expires, when its user is deactivated or loses the
marketing role, at its own expiry, or at sign out. Writes are bookkeeping transactions
(no change number, no counter lock).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from triage import domain
from triage.server import models
from triage.server.db import utcnow
from triage.server.models_workspace import SignInCode, WebSession
from triage.server.service import Backend, Caller, ServiceError, hash_token
from triage.server.services.common import _caller, _utc

SESSION_HOURS = 12
CODE_MINUTES = 10
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WebUser:
    caller: Caller
    session_id: str  # the secret's digest
    csrf: str
    expires_at: datetime


def start(backend: Backend, caller: Caller, token: str | None) -> tuple[str, datetime]:
    """A new session for `caller` (signed in with `token`, or with a code when None):
    (the cookie's secret, when it expires). A token that expires sooner ends it sooner."""
    now = utcnow()
    expires = now + timedelta(hours=SESSION_HOURS)
    secret = secrets.token_urlsafe(32)
    with backend.db.bookkeeping() as s:
        token_hash = None
        if token is not None:
            token_hash = hash_token(token)
            row = s.get(models.Token, token_hash)
            if row is not None and row.expires_at is not None:
                expires = min(expires, _utc(row.expires_at) or expires)
        # sessions past their expiry are deleted as new ones begin (no job needed)
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.add(
            WebSession(
                id=_digest(secret),
                user_id=caller.id,
                token_hash=token_hash,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=expires,
            )  # fmt: skip
        )
    return secret, expires


def current(backend: Backend, secret: str | None) -> WebUser | None:
    """The signed-in marketing user of a session cookie, or None (no such session, or it
    has ended: expired, signed out, its token revoked or expired, its user deactivated
    or no longer marketing)."""
    if not secret or len(secret) > 200:
        return None
    digest = _digest(secret)
    now = utcnow()
    with backend.db.read() as s:
        row = s.execute(
            select(WebSession, models.User, models.Token)
            .join(models.User, models.User.id == WebSession.user_id)
            .outerjoin(models.Token, models.Token.hash == WebSession.token_hash)
            .where(WebSession.id == digest)
        ).first()
    if row is None or not hmac.compare_digest(row[0].id, digest):
        return None
    session, user, token = row
    if _utc(session.expires_at) <= now or not user.active or user.role != domain.Role.MARKETING:
        return None
    if session.token_hash is not None:
        if token is None or token.revoked_at is not None:
            return None
        if token.expires_at is not None and _utc(token.expires_at) <= now:
            return None
    return WebUser(_caller(user), session.id, session.csrf, _utc(session.expires_at))


def end(backend: Backend, secret: str | None) -> None:
    if not secret or len(secret) > 200:
        return
    with backend.db.bookkeeping() as s:
        s.execute(delete(WebSession).where(WebSession.id == _digest(secret)))


def new_code(backend: Backend, email: str, minutes: int = CODE_MINUTES) -> tuple[str, datetime]:
    """A single-use sign-in code for a marketing user, valid `minutes`: (code, expiry).
    Only its hash is stored; the code is shown once."""
    now = utcnow()
    code = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
    expires = now + timedelta(minutes=minutes)
    with backend.db.bookkeeping() as s:
        user = backend._user(s, email)
        if user.role != domain.Role.MARKETING:
            raise ServiceError(
                409,
                "not_marketing",
                f"{user.email} is a {user.role}; the workspace is for marketing",
            )
        s.execute(delete(SignInCode).where(SignInCode.expires_at < now))
        s.add(SignInCode(hash=_digest(_norm(code)), user_id=user.id, created_at=now,
                         expires_at=expires))  # fmt: skip
    return code, expires


def _norm(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def redeem(backend: Backend, code: str) -> Caller | None:
    """Spend a sign-in code: its user, once, while it is valid; else None."""
    if not code or len(code) > 64:
        return None
    digest = _digest(_norm(code))
    now = utcnow()
    with backend.db.bookkeeping() as s:
        spent = s.execute(
            update(SignInCode)
            .where(
                SignInCode.hash == digest, SignInCode.used_at.is_(None), SignInCode.expires_at > now
            )  # fmt: skip
            .values(used_at=now)
        ).rowcount
        if spent != 1:
            return None
        user_id = s.execute(
            select(SignInCode.user_id).where(SignInCode.hash == digest)
        ).scalar_one()
        user = s.get(models.User, user_id)
        if user is None or not user.active or user.role != domain.Role.MARKETING:
            return None
        return _caller(user)
