"""Users and their tokens: issue, rotate, revoke, expire, deactivate; who a token is."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.db import explain, utcnow
from triage.server.services.common import (
    LAST_USED_EVERY,
    Caller,
    ServiceError,
    TokenInfo,
    _caller,
    _token_info,
    _utc,
    hash_token,
    log,
    new_token,
)


class UsersMixin:
    """Users and tokens, written through the bookkeeping path (no change number)."""

    @staticmethod
    def _email(email: str) -> str:
        email = email.strip().lower()
        if not domain.storable_text(email) or not domain.is_email(email):
            raise ServiceError(400, "bad_email", f"{domain.quoted(email)} is not an email address")
        return email

    @staticmethod
    def _role(role: str) -> str:
        try:
            return domain.Role(role).value
        except ValueError:
            raise ServiceError(400, "bad_role", "role must be rep or marketing") from None

    def _user(self, s: Session, email: str) -> models.User:
        user = s.execute(
            select(models.User).where(models.User.email == self._email(email))
        ).scalar_one_or_none()
        if user is None:
            raise ServiceError(404, "unknown_user", f"no user {email.strip().lower()}")
        return user

    @staticmethod
    def _issue(
        s: Session, user: models.User, now: datetime, expires_at: datetime | None
    ) -> tuple[str, str]:
        """A new token for `user`: (its public id, the token itself, to be shown once)."""
        token = new_token()
        public_id = secrets.token_hex(5)
        while s.execute(
            select(models.Token.hash).where(models.Token.public_id == public_id)
        ).first():  # 40 random bits: a repeat is all but impossible, and checked anyway
            public_id = secrets.token_hex(5)
        assert user.id is not None
        s.add(
            models.Token(
                hash=hash_token(token),
                public_id=public_id,
                user_id=user.id,
                created_at=now,
                expires_at=expires_at,
            )  # fmt: skip
        )
        return public_id, token

    def add_user(
        self, email: str, name: str | None, role: str, *, expires_at: datetime | None = None
    ) -> tuple[Caller, str, bool]:
        """Create a user with a first token. Returns (user, token, True).

        An existing user is refused (409 user_exists): a new token for them is
        `rotate_token`, which also revokes the old ones."""
        email = self._email(email)
        role = self._role(role)
        now = utcnow()
        with self.db.bookkeeping() as s:
            user = s.execute(
                select(models.User).where(models.User.email == email)
            ).scalar_one_or_none()
            if user is not None:
                raise ServiceError(
                    409,
                    "user_exists",
                    f"{email} already exists; `triage server token rotate {email}` gives "
                    "them a new token (and revokes the old ones)",
                )
            user = models.User(
                email=email, name=name or email.split("@")[0], role=role, created_at=now
            )
            s.add(user)
            s.flush()
            _, token = self._issue(s, user, now, expires_at)
            caller = _caller(user)
        return caller, token, True

    def rotate_token(
        self, email: str, *, expires_at: datetime | None = None
    ) -> tuple[Caller, str, str, int]:
        """A new token for a user, and every other token of theirs revoked, in one
        transaction. Returns (user, token, its public id, how many were revoked)."""
        now = utcnow()
        with self.db.bookkeeping() as s:
            user = self._user(s, email)
            revoked = _revoke_live_tokens(s, user, now)
            public_id, token = self._issue(s, user, now, expires_at)
            caller = _caller(user)
        return caller, token, public_id, revoked

    def revoke_token(self, public_id: str) -> TokenInfo:
        """Revoke one token by its public id (a token already revoked stays as it was)."""
        now = utcnow()
        with self.db.bookkeeping() as s:
            row = None
            if domain.storable_text(public_id):
                row = s.execute(
                    select(models.Token, models.User)
                    .join(models.User, models.User.id == models.Token.user_id)
                    .where(models.Token.public_id == public_id.strip().lower())
                ).first()
            if row is None:
                raise ServiceError(
                    404, "unknown_token", f"no token with id {domain.quoted(public_id)}"
                )
            token, user = row
            if token.revoked_at is None:
                token.revoked_at = now
            return _token_info(token, user, now)

    def revoke_tokens(self, email: str) -> tuple[Caller, int]:
        """Revoke every live token of a user. Returns (user, how many)."""
        now = utcnow()
        with self.db.bookkeeping() as s:
            user = self._user(s, email)
            return _caller(user), _revoke_live_tokens(s, user, now)

    def tokens(self, email: str | None = None) -> list[TokenInfo]:
        """Every token (of one user, given `email`), oldest first; never the secret."""
        now = utcnow()
        with self.db.read() as s:
            q = select(models.Token, models.User).join(
                models.User, models.User.id == models.Token.user_id
            )
            if email is not None:
                q = q.where(models.Token.user_id == self._user(s, email).id)
            rows = s.execute(q.order_by(models.Token.created_at, models.Token.public_id)).all()
        return [_token_info(t, u, now) for t, u in rows]

    def set_active(self, email: str, active: bool) -> tuple[Caller, int]:
        """Deactivate (every token refused at once) or activate a user. Their leads stay
        assigned either way. Returns (user, their open leads)."""
        with self.db.bookkeeping() as s:
            user = self._user(s, email)
            user.active = active
            return _caller(user), _open_leads(s, user)

    def set_role(self, email: str, role: str) -> Caller:
        """Change a user's role. A rep who still owns open leads stays a rep until they are
        reassigned (a lead's owner is always a rep)."""
        role = self._role(role)
        with self.db.bookkeeping() as s:
            user = self._user(s, email)
            if user.role == domain.Role.REP and role != domain.Role.REP:
                owned = _open_leads(s, user)
                if owned:
                    raise ServiceError(
                        409,
                        "owns_leads",
                        f"{user.email} owns {owned} open lead(s); reassign them first "
                        "(triage server assign)",
                    )
            user.role = role
            return _caller(user)

    def authenticate(self, token: str) -> Caller | None:
        """The caller of a token, checked against the database on every request (no cache:
        a revocation, an expiry or a deactivation counts at once, on every instance)."""
        if not token or len(token) > 200:
            return None
        digest = hash_token(token)
        with self.db.read() as s:
            row = s.execute(
                select(
                    models.Token.hash,
                    models.Token.expires_at,
                    models.Token.revoked_at,
                    models.Token.last_used_at,
                    models.User,
                )
                .join(models.User, models.User.id == models.Token.user_id)
                .where(models.Token.hash == digest)
            ).first()
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        _, expires_at, revoked_at, last_used_at, user = row
        now = utcnow()
        if revoked_at is not None or not user.active:
            return None
        if expires_at is not None and _utc(expires_at) <= now:
            return None
        last = _utc(last_used_at)
        if last is None or now - last >= LAST_USED_EVERY:
            self._touch(digest, now)
        return _caller(user)

    def _touch(self, digest: str, now: datetime) -> None:
        """Record a token's use: a bookkeeping write (no change number, no counter lock),
        at most once a minute per token, that never waits for another writer: when the
        database is busy it is left to a later request. It never fails the request."""
        try:
            with self.db.bookkeeping(wait=False) as s:
                s.execute(
                    update(models.Token).where(models.Token.hash == digest).values(last_used_at=now)
                )
        except SQLAlchemyError as exc:
            log.debug("a token's last use is left for later: %s", explain(exc))

    def users(self) -> list[Caller]:
        with self.db.read() as s:
            rows = s.execute(select(models.User).order_by(models.User.email)).scalars().all()
        return [_caller(u) for u in rows]


def _revoke_live_tokens(s: Session, user: models.User, now: datetime) -> int:
    """Revoke every token of `user` not revoked yet; how many."""
    return s.execute(
        update(models.Token)
        .where(models.Token.user_id == user.id, models.Token.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount


def _open_leads(s: Session, user: models.User) -> int:
    return s.execute(
        select(func.count())
        .select_from(models.Lead)
        .where(models.Lead.owner_id == user.id, models.Lead.status == domain.Status.OPEN.value)
    ).scalar_one()
