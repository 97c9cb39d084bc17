"""What the server does, independent of HTTP: the API and the `triage server` commands call this."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from triage import domain
from triage.protocol import Mutation, MutationEnvelope
from triage.server import migrate, models
from triage.server.db import Database, SeqAllocator, current_seq, explain, utcnow

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


def lead_wire(row: Any, owner_email: str | None) -> dict[str, Any]:
    """A server lead (ORM object, row or record with the lead's columns) as protocol v1 JSON."""
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
        "score": row.score,
        "mql_at": _iso(row.mql_at),
        "assigned_at": _iso(row.assigned_at),
        "owner": owner_email,
        "evidence": row.evidence,
        "activities": row.activities,
        "bant": row.bant,
        "status": row.status,
        "decision": row.decision,
        **({"history": history_wire(row.history)} if row.history else {}),
    }


def history_wire(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier cycles as the lead's owner sees them: outcome, reason, when and who; never
    the note (it was written for another rep's cycle)."""
    return [{k: h.get(k) for k in ("outcome", "reason", "at", "by")} for h in history]


LEAD = models.Lead.__table__
_PUSHED_COLUMNS = ("status", "decision", "bant", "decided_at", "version", "seq", "updated_at")


READY_TIMEOUT = 1.0  # seconds: a database slower than this is not ready


class _ReadyCheck:
    """`db.ping()` in a thread of its own, waited for at most `timeout`.

    The request gives up after the timeout whatever the database's own busy or connect
    timeout; the check goes on in its daemon thread until the database answers or fails.
    One check at a time: a request that comes while one is running waits for that one,
    so a database that never answers cannot pile up threads.
    """

    def __init__(self, ping: Callable[[], None]):
        self._ping = ping
        self._lock = threading.Lock()
        self._running: tuple[threading.Thread, dict[str, BaseException | None]] | None = None

    def __call__(self, timeout: float) -> str | None:
        """None when the database answered in time, else what went wrong."""
        with self._lock:
            if self._running is None or not self._running[0].is_alive():
                box: dict[str, BaseException | None] = {}

                def check() -> None:
                    try:
                        self._ping()
                        box["error"] = None
                    except BaseException as exc:  # reported to the request, not raised
                        box["error"] = exc

                thread = threading.Thread(target=check, name="triage-ready", daemon=True)
                self._running = (thread, box)
                thread.start()
            thread, box = self._running
        thread.join(timeout)
        if thread.is_alive() or "error" not in box:
            return f"the database did not answer within {timeout:g} s"
        error = box["error"]
        return None if error is None else f"the database check failed: {explain(error)}"


class Backend:
    def __init__(self, db: Database):
        self.db = db
        self.migration: migrate.Migration | None = None  # what open() did to the schema
        self._policy_cache: tuple[int, domain.Policy] | None = None
        self._identity: Identity | None = None
        self._ready_check = _ReadyCheck(lambda: self.db.ping())

    @classmethod
    def open(cls, url: str) -> Backend:
        """Open the database at `url`, creating or upgrading its schema first (under a lock,
        so many processes may open one database at once). Raises SchemaError for a
        database made by a newer triage."""
        db = Database(url)
        try:
            migration = migrate.upgrade(db)
            backend = cls(db)
        except BaseException:
            db.dispose()
            raise
        backend.migration = migration
        return backend

    @property
    def identity(self) -> Identity:
        """The server's id (never changes) and history epoch, as read when it was opened."""
        if self._identity is None:
            with self.db.read() as s:
                info = s.get(models.ServerInfo, 1)
                assert info is not None, "the schema migrations make this row"
                self._identity = Identity(info.server_id, info.epoch)
        return self._identity

    def current_epoch(self) -> int:
        """The epoch as the database says now (a restore changes it)."""
        with self.db.read() as s:
            return self._here(s)["epoch"]

    def ready(self, timeout: float = READY_TIMEOUT) -> str | None:
        """None when the database answers a small read within `timeout` seconds, else why
        not (for /v1/ready)."""
        return self._ready_check(timeout)

    def close(self) -> None:
        self.db.dispose()

    # ------------------------------------------------------------ users

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
            revoked = s.execute(
                update(models.Token)
                .where(models.Token.user_id == user.id, models.Token.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
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
            count = s.execute(
                update(models.Token)
                .where(models.Token.user_id == user.id, models.Token.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            return _caller(user), count

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
            open_leads = s.execute(
                select(func.count())
                .select_from(models.Lead)
                .where(
                    models.Lead.owner_id == user.id,
                    models.Lead.status == domain.Status.OPEN.value,
                )
            ).scalar_one()
            return _caller(user), open_leads

    def set_role(self, email: str, role: str) -> Caller:
        """Change a user's role. A rep who still owns open leads stays a rep until they are
        reassigned (a lead's owner is always a rep)."""
        role = self._role(role)
        with self.db.bookkeeping() as s:
            user = self._user(s, email)
            if user.role == domain.Role.REP and role != domain.Role.REP:
                owned = s.execute(
                    select(func.count())
                    .select_from(models.Lead)
                    .where(
                        models.Lead.owner_id == user.id,
                        models.Lead.status == domain.Status.OPEN.value,
                    )
                ).scalar_one()
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

    # ------------------------------------------------------------ policy

    def _policy(self, s: Session) -> domain.Policy:
        doc = s.execute(
            select(models.PolicyDoc).order_by(models.PolicyDoc.version.desc()).limit(1)
        ).scalar_one_or_none()
        if doc is None:
            return domain.DEFAULT_POLICY
        cached = self._policy_cache
        if cached is not None and cached[0] == doc.version:
            return cached[1]
        policy = domain.Policy.from_dict(doc.body, version=doc.version)
        self._policy_cache = (doc.version, policy)
        return policy

    def policy(self) -> domain.Policy:
        with self.db.read() as s:
            return self._policy(s)

    def set_policy(self, policy: domain.Policy) -> domain.Policy:
        """Store `policy` as the next version; the same content as the current policy is no
        change and keeps its version (a new version makes every client refetch it)."""
        with self.db.write() as s:
            current = self._policy(s)
            body = policy.to_dict()
            if {**body, "version": current.version} == current.to_dict():
                return current
            version = current.version + 1
            body["version"] = version
            s.add(models.PolicyDoc(version=version, body=body, created_at=utcnow()))
        return domain.Policy.from_dict(body, version=version)

    # ------------------------------------------------------------ marketing: leads

    def _reps_by_email(self, s: Session, emails: Iterable[str]) -> dict[str, models.User]:
        wanted = sorted({e.lower() for e in emails})
        found: dict[str, models.User] = {}
        for chunk in _chunks(wanted):
            for u in s.execute(select(models.User).where(models.User.email.in_(chunk))).scalars():
                found[u.email] = u
        return found

    def upsert_leads(
        self,
        rows: Sequence[dict[str, Any]],
        labels: Sequence[str] | None = None,
        *,
        known_problems: Sequence[tuple[str, list[str]]] = (),
        dry_run: bool = False,
    ) -> tuple[int, int, int]:
        """Create or update leads by external_id, all or nothing. Returns (created, updated, unchanged).

        `dry_run`: the same checks and counts, in a transaction that writes nothing.

        Raises RowProblems naming every bad row (by `labels`, e.g. "line 7"), and writes nothing.
        `known_problems` are rows of the same file that could not even be read: reported
        together with the problems of `rows`, so one run names every bad row.
        """
        labels = labels or [f"row {i}" for i in range(1, len(rows) + 1)]
        problems: list[tuple[str, list[str]]] = list(known_problems)
        inputs: list[tuple[str, domain.LeadInput]] = []
        seen: dict[str, str] = {}
        for label, row in zip(labels, rows, strict=True):
            parsed, errs = domain.parse_import_row(row)
            if parsed is not None and parsed.external_id in seen:
                errs = [f"external_id {parsed.external_id!r} repeats {seen[parsed.external_id]}"]
            if errs:
                problems.append((label, errs))
                continue
            assert parsed is not None
            seen[parsed.external_id] = label
            inputs.append((label, parsed))
        now = utcnow()
        with self.db.rehearsal() if dry_run else self.db.write() as s:
            owners = self._reps_by_email(s, (i.owner for _, i in inputs if i.owner))
            for label, item in inputs:
                if item.owner:
                    u = owners.get(item.owner.lower())
                    if u is None:
                        problems.append((label, [f"owner {item.owner} is not a user"]))
                    elif u.role != domain.Role.REP:
                        problems.append((label, [f"owner {item.owner} is not a rep"]))
            existing: dict[str, models.Lead] = {}
            ext_ids = [i.external_id for _, i in inputs]
            for chunk in _chunks(ext_ids):
                for lead in s.execute(
                    select(models.Lead).where(models.Lead.external_id.in_(chunk))
                ).scalars():
                    existing[lead.external_id] = lead
            for label, item in inputs:
                u = owners.get(item.owner.lower()) if item.owner else None
                if u is None or u.role != domain.Role.REP:
                    continue
                lead = existing.get(item.external_id)
                if lead is not None and lead.owner_id == u.id:
                    continue
                # A deactivated rep keeps the leads they have; no lead is given to them.
                if not u.active:
                    problems.append((label, [f"owner {item.owner} is deactivated"]))
                # A decided lead changes hands only by `assign --force` (a new cycle).
                elif lead is not None and lead.status != domain.Status.OPEN.value:
                    by = (lead.decision or {}).get("by") or "its owner"
                    problems.append(
                        (
                            label,
                            [
                                f"{item.external_id} was {lead.status} by {by}; a decided lead "
                                "changes owner only with `triage server assign --force`"
                            ],
                        )
                    )
            if problems:
                order = {lb: i for i, lb in enumerate(labels)}
                problems.sort(key=lambda p: order.get(p[0], 0))
                raise RowProblems(problems)
            seqs = SeqAllocator(s)
            created = updated = unchanged = 0
            new_rows = []
            for _, item in inputs:
                owner = owners[item.owner.lower()] if item.owner else None
                lead = existing.get(item.external_id)
                if lead is None:
                    lead_id = secrets.token_hex(6)
                    lead = models.Lead(
                        id=lead_id,
                        external_id=item.external_id,
                        seq=seqs.next(lead_id, "import"),
                        owner_id=owner.id if owner else None,
                        assigned_at=now if owner else None,
                        name=item.name,
                        email=item.email,
                        evidence=dict(item.evidence),
                        activities=_activities_json(item.activities or ()),
                        bant={},
                        created_at=now,
                        updated_at=now,
                        mql_at=_utc(item.fields.get("mql_at")) or now,
                        **{k: v for k, v in item.fields.items() if k != "mql_at"},
                    )
                    new_rows.append(lead)
                    created += 1
                    continue
                changed = self._update_lead(lead, item)
                if owner is not None and lead.owner_id != owner.id:
                    if not dry_run:
                        self._reassign(s, lead, owner, seqs, now)
                    changed = True
                if changed:
                    lead.version += 1
                    lead.seq = seqs.next(lead.id, "update")
                    lead.updated_at = now
                    updated += 1
                else:
                    unchanged += 1
            if not dry_run:  # a dry run writes nothing, not even the change log
                s.add_all(new_rows)
                seqs.close()
        return created, updated, unchanged

    @staticmethod
    def _update_lead(lead: models.Lead, item: domain.LeadInput) -> bool:
        changed = False
        for key, value in (("name", item.name), ("email", item.email), *item.fields.items()):
            if key == "mql_at":
                value = _utc(value)
            if getattr(lead, key) != value:
                setattr(lead, key, value)
                changed = True
        if item.evidence and {**lead.evidence, **item.evidence} != lead.evidence:
            lead.evidence = {**lead.evidence, **item.evidence}
            changed = True
        if item.activities is not None:
            acts = _activities_json(item.activities)
            if acts != lead.activities:
                lead.activities = acts
                changed = True
        return changed

    @staticmethod
    def _reassign(
        s: Session, lead: models.Lead, owner: models.User, seqs: SeqAllocator, now: datetime
    ) -> None:
        """Move a lead to `owner`; the previous owner gets a revocation at this change number."""
        seq = seqs.next(lead.id, "assign")
        if lead.owner_id is not None:
            rev = s.get(models.Revocation, (lead.owner_id, lead.id))
            if rev is None:
                s.add(models.Revocation(user_id=lead.owner_id, lead_id=lead.id, seq=seq))
            else:
                rev.seq = seq
        s.execute(
            delete(models.Revocation).where(
                models.Revocation.user_id == owner.id, models.Revocation.lead_id == lead.id
            )
        )
        lead.owner_id = owner.id
        lead.assigned_at = now
        lead.seq = seq

    def _find_lead(self, s: Session, ref: str) -> models.Lead:
        if not domain.storable_text(ref):  # PostgreSQL cannot even compare a NUL
            raise ServiceError(404, "unknown_lead", f"no lead with id or external_id {ref!r}")
        lead = s.get(models.Lead, ref)
        if lead is None:
            lead = s.execute(
                select(models.Lead).where(models.Lead.external_id == ref)
            ).scalar_one_or_none()
        if lead is None:
            raise ServiceError(404, "unknown_lead", f"no lead with id or external_id {ref!r}")
        return lead

    def assign(
        self, lead_ref: str, owner_email: str, *, force: bool = False, by: str | None = None
    ) -> dict[str, Any]:
        """Assign a lead to a rep. A decided lead is refused (409 already_decided) unless
        `force`, which starts a new cycle: the lead is open again, its decision moves to
        its history, and the feedback stream gets a "reassign" event. `by`: who asked
        (marketing's email; None from the command line), kept in the history."""
        with self.db.write() as s:
            lead = self._find_lead(s, lead_ref)
            owner = None
            if domain.storable_text(owner_email):
                owner = self._reps_by_email(s, [owner_email]).get(owner_email.strip().lower())
            if owner is None or owner.role != domain.Role.REP:
                raise ServiceError(404, "unknown_rep", f"{owner_email!r} is not a rep")
            if not owner.active and lead.owner_id != owner.id:
                raise ServiceError(
                    409, "inactive_rep", f"{owner.email} is deactivated; assign it to another rep"
                )
            decided = lead.status != domain.Status.OPEN.value
            moves = lead.owner_id != owner.id
            if decided and moves and not force:
                d = lead.decision or {}
                when = str(d.get("at") or "")[:10]
                raise ServiceError(
                    409,
                    "already_decided",
                    f"lead {lead.id} was {lead.status} by {d.get('by') or 'its owner'}"
                    + (f" on {when}" if when else "")
                    + (f" ({d['reason']})" if d.get("reason") else "")
                    + "; reassigning it reopens it for the new owner and moves the decision "
                    'to its history: pass --force (API: "force": true)',
                )
            if moves or (decided and force):
                now = utcnow()
                seqs = SeqAllocator(s)
                if decided:
                    self._set_aside(s, lead, owner, by, now)
                if moves:
                    self._reassign(s, lead, owner, seqs, now)
                else:
                    lead.assigned_at = now  # a new cycle: its SLA clock starts again
                    lead.seq = seqs.next(lead.id, "cycle")
                if decided:
                    set_aside = (lead.history or [{}])[-1]
                    s.add(
                        models.Event(
                            seq=lead.seq,
                            lead_id=lead.id,
                            user_id=owner.id,
                            kind="reassign",
                            client_at=now,
                            effective_at=now,
                            received_at=now,
                            decision_id=set_aside.get("id"),
                        )  # fmt: skip
                    )
                lead.version += 1
                lead.updated_at = now
                seqs.close()
            return lead_wire(lead, owner.email)

    @staticmethod
    def _set_aside(
        s: Session, lead: models.Lead, owner: models.User, by: str | None, now: datetime
    ) -> None:
        """End the lead's cycle: its decision, note included, joins its history; the lead
        is open again."""
        previous = s.get(models.User, lead.owner_id) if lead.owner_id else None
        entry = {
            **(lead.decision or {"outcome": None}),
            "decided_at": _iso(lead.decided_at),
            "owner": previous.email if previous else None,
            "bant": lead.bant,
            "ended_at": _iso(now),
            "ended_by": by,
            "reassigned_to": owner.email,
        }
        lead.history = [*(lead.history or []), entry]
        lead.status = domain.Status.OPEN.value
        lead.decision = None
        lead.decided_at = None

    # ------------------------------------------------------------ rep: pull

    @staticmethod
    def _here(s: Session) -> dict[str, Any]:
        """Who answers, read in the answer's own transaction: server_id and epoch."""
        info = s.get(models.ServerInfo, 1)
        assert info is not None, "the schema migrations make this row"
        return {"server_id": info.server_id, "epoch": info.epoch}

    @staticmethod
    def _digest(s: Session, seq: int) -> str | None:
        if seq <= 0:
            return None
        return s.execute(
            select(models.ChangeLog.digest).where(models.ChangeLog.seq == seq)
        ).scalar_one_or_none()

    def _from_another_history(self, s: Session, cursor: int, top: int, digest: str | None) -> bool:
        """Can the server not serve `cursor`? Past its counter (a restore), or, with the
        digest the client was given for it, a change log that says something else there
        (a restore, then new changes) or nothing any more (pruned): answer reset."""
        if cursor > top:
            return True
        if digest is None or cursor == 0:
            return False
        return self._digest(s, cursor) != digest

    def _client_last_seq(self, s: Session, caller: Caller, client_id: str | None) -> int:
        if client_id is None:
            return 0
        state = s.get(models.ClientState, client_id)
        if state is None:
            return 0
        if state.user_id != caller.id:
            raise ServiceError(403, "client_id_taken", "this client_id belongs to another user")
        return state.last_seq

    def pull(
        self,
        caller: Caller,
        cursor: int,
        limit: int,
        client_id: str | None,
        digest: str | None = None,
    ) -> dict[str, Any]:
        with self.db.read() as s:
            top = current_seq(s)
            policy = self._policy(s)
            here = self._here(s)
            last_seq = self._client_last_seq(s, caller, client_id)
            reset = self._from_another_history(s, cursor, top, digest)
            if reset:
                cursor = 0
            q = select(LEAD).where(LEAD.c.owner_id == caller.id, LEAD.c.seq > cursor)
            if cursor == 0:
                q = q.where(LEAD.c.status == domain.Status.OPEN.value)
            leads = list(s.execute(q.order_by(LEAD.c.seq).limit(limit + 1)))
            revs: list[tuple[int, str]] = []
            if cursor > 0:
                revs = [
                    (r.seq, r.lead_id)
                    for r in s.execute(
                        select(models.Revocation)
                        .where(
                            models.Revocation.user_id == caller.id, models.Revocation.seq > cursor
                        )
                        .order_by(models.Revocation.seq)
                        .limit(limit + 1)
                    ).scalars()
                ]
            items: list[tuple[int, int, Any]] = [(lead.seq, 1, lead) for lead in leads]
            items += [(seq, 0, lead_id) for seq, lead_id in revs]
            items.sort(key=lambda t: (t[0], t[1]))
            has_more = len(items) > limit
            items = items[:limit]
            new_cursor = items[-1][0] if has_more else top
            cursor_digest = self._digest(s, new_cursor)
        out_leads = [lead_wire(x, caller.email) for _, kind, x in items if kind == 1]
        revoked = [x for _, kind, x in items if kind == 0]
        return {
            "leads": out_leads,
            "revoked": revoked,
            "cursor": new_cursor,
            "has_more": has_more,
            "policy_version": policy.version,
            "last_seq": last_seq,
            "reset": reset,
            **here,
            "cursor_digest": cursor_digest,
        }

    def lookup(
        self, caller: Caller, lead_ids: Sequence[str], client_id: str | None
    ) -> dict[str, Any]:
        """The current state of the given leads that are the caller's (any status); the
        rest in `missing`, with nothing said about them. For a client that must learn
        what a restored server still holds of its own decisions."""
        wanted = list(dict.fromkeys(i for i in lead_ids if domain.storable_text(i)))
        found: dict[str, Any] = {}
        with self.db.read() as s:
            here = self._here(s)
            last_seq = self._client_last_seq(s, caller, client_id)
            for chunk in _chunks(wanted):
                for row in s.execute(
                    select(LEAD).where(LEAD.c.id.in_(chunk), LEAD.c.owner_id == caller.id)
                ):
                    found[row.id] = row
        return {
            "leads": [lead_wire(found[i], caller.email) for i in wanted if i in found],
            "missing": [i for i in lead_ids if i not in found],
            "last_seq": last_seq,
            **here,
        }

    # ------------------------------------------------------------ rep: push

    def push(
        self, caller: Caller, client_id: str, envelopes: Sequence[MutationEnvelope]
    ) -> dict[str, Any]:
        received = utcnow()
        ordered = sorted(envelopes, key=lambda e: e.seq)
        with self.db.write() as s:
            state = s.get(models.ClientState, client_id)
            if state is None:
                state = models.ClientState(
                    client_id=client_id, user_id=caller.id, last_seq=0, updated_at=received
                )
                s.add(state)
            elif state.user_id != caller.id:
                raise ServiceError(403, "client_id_taken", "this client_id belongs to another user")
            last = state.last_seq
            policy = self._policy(s)
            lead_ids = sorted(
                {
                    str(e.model_extra.get("lead_id"))
                    for e in ordered
                    if e.model_extra and domain.storable_text(str(e.model_extra.get("lead_id")))
                }
            )
            # Leads as plain records, written back in one executemany: ORM objects cost
            # more than the database work at 500 mutations a batch.
            leads: dict[str, Any] = {}
            for chunk in _chunks(lead_ids):
                for row in s.execute(select(LEAD).where(LEAD.c.id.in_(chunk))):
                    leads[row.id] = SimpleNamespace(**row._mapping)
            before = {lead_id: lead.seq for lead_id, lead in leads.items()}
            old = [e.seq for e in ordered if e.seq <= last]
            stored: dict[int, dict[str, Any]] = {}
            for chunk in _chunks(old):
                for seq, lead_id, status, error in s.execute(
                    select(
                        models.MutationLog.seq,
                        models.MutationLog.lead_id,
                        models.MutationLog.status,
                        models.MutationLog.error,
                    ).where(
                        models.MutationLog.client_id == client_id, models.MutationLog.seq.in_(chunk)
                    )  # fmt: skip
                ):
                    stored[seq] = {"lead_id": lead_id, "status": status, "error": error}
            seqs = SeqAllocator(s)
            results: list[dict[str, Any]] = []
            logs: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for env in ordered:
                if env.seq <= last:
                    log = stored.get(env.seq)
                    lead = leads.get(log["lead_id"]) if log and log["lead_id"] else None
                    visible = lead is not None and lead.owner_id == caller.id
                    results.append(
                        {
                            "seq": env.seq,
                            "status": "duplicate",
                            "error": log["error"] if log else None,
                            "stored": log["status"] if log else None,
                            "lead": lead_wire(lead, caller.email) if visible else None,
                        }
                    )
                    continue
                if env.seq != last + 1:
                    results.append(
                        {"seq": env.seq, "status": "out_of_order", "error": None, "lead": None}
                    )
                    continue
                status, error, lead = self._apply(
                    caller, client_id, policy, env, leads, seqs, received, events
                )
                last = env.seq
                log = {
                    "client_id": client_id,
                    "seq": env.seq,
                    "lead_id": lead.id if lead is not None else None,
                    "status": status,
                    "error": error,
                    "processed_at": received,
                }
                logs.append(log)
                stored[env.seq] = log
                visible = lead is not None and lead.owner_id == caller.id
                results.append(
                    {
                        "seq": env.seq,
                        "status": status,
                        "error": error,
                        "lead": lead_wire(lead, caller.email) if visible else None,
                    }
                )
            # Plain inserts: building thousands of SQLModel objects costs more than the writes.
            if logs:
                s.execute(insert(models.MutationLog.__table__), logs)
            changed = [lead for lead_id, lead in leads.items() if lead.seq != before[lead_id]]
            if changed:
                s.execute(
                    update(LEAD)
                    .where(LEAD.c.id == bindparam("_id"))
                    .values({c: bindparam(f"_{c}") for c in _PUSHED_COLUMNS}),
                    [
                        {"_id": x.id, **{f"_{c}": getattr(x, c) for c in _PUSHED_COLUMNS}}
                        for x in changed
                    ],
                )
            if events:
                s.execute(insert(models.Event.__table__), events)
            state.last_seq = last
            state.updated_at = received
            seqs.close()
            here = self._here(s)
        return {"results": results, "last_seq": last, **here}

    def _apply(
        self,
        caller: Caller,
        client_id: str,
        policy: domain.Policy,
        env: MutationEnvelope,
        leads: dict[str, Any],
        seqs: SeqAllocator,
        received: datetime,
        events: list[dict[str, Any]],
    ) -> tuple[str, str | None, Any]:
        """Apply one in-order mutation to its lead record: (status, error, lead to show)."""
        try:
            m = Mutation.model_validate({"seq": env.seq, **(env.model_extra or {})})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            where = domain.shown_text(where).replace("\x00", "?")  # a field name is stored too
            return "invalid", f"bad_mutation:{where}"[:40], None
        for name in ("lead_id", "reason", "note"):
            value = getattr(m, name)
            if value is not None and (
                not domain.storable_text(value)
                or domain.control_problem(value, multiline=name == "note") is not None
            ):
                return "invalid", f"bad_mutation:{name}", None
        try:
            client_at = _utc(m.at) or received
        except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00
            return "invalid", "bad_mutation:at", None
        lead = leads.get(m.lead_id)
        if lead is None or lead.owner_id != caller.id:
            return "conflict", "not_assigned", None
        if m.type == "decide":
            if m.outcome is None:
                return "invalid", "outcome_required", lead
            error = policy.check_decision(m.outcome, m.reason, m.note)
            if error is None and m.bant:
                error = policy.check_bant(m.bant)
            if error is not None:
                return "invalid", error, lead
            outcome = domain.Outcome(m.outcome)
            effective = domain.clamp_time(client_at, lead.assigned_at, received)
            nurture_until = m.nurture_until if outcome is domain.Outcome.NURTURE else None
            error = domain.nurture_until_error(nurture_until, effective)
            if error is not None:
                return "invalid", error, lead
            # A decision keeps the identity of its first sending, also when a rep sends it
            # again after a restore: the same decision is never applied twice.
            decision_id = (
                f"{m.origin.client_id}:{m.origin.seq}" if m.origin else f"{client_id}:{m.seq}"
            )
            if lead.status != domain.Status.OPEN:
                if (lead.decision or {}).get("id") == decision_id:
                    return "applied", None, lead  # this very decision stands already
                return "conflict", "already_decided", lead
            lead.status, lead.bant, lead.decision = domain.apply(
                lead.status, lead.bant, lead.decision,
                {"type": "decide", "outcome": outcome.value, "reason": m.reason, "note": m.note,
                 "bant": m.bant, "nurture_until": nurture_until, "at": _iso(client_at)},
                by=caller.email, decision_id=decision_id,
            )  # fmt: skip
            lead.decided_at = effective
            event = dict(
                lead_id=lead.id, user_id=caller.id, kind="decide", outcome=outcome.value,
                reason=lead.decision["reason"], note=m.note, nurture_until=nurture_until,
                client_at=client_at, effective_at=effective, received_at=received,
                decision_id=decision_id, client_id=client_id, mutation_seq=m.seq,
            )  # fmt: skip
        elif m.type == "bant":
            if not m.bant:
                return "invalid", "bant_required", lead
            error = policy.check_bant(m.bant)
            if error is not None:
                return "invalid", error, lead
            _, merged, _ = domain.apply(
                lead.status, lead.bant, lead.decision, {"type": "bant", "bant": m.bant}, by=None
            )
            if merged == lead.bant:
                return "applied", None, lead
            lead.bant = merged
            event = None
        else:  # reopen
            if lead.status == domain.Status.OPEN:
                return "conflict", "not_decided", lead
            standing = lead.decision or {}
            if standing.get("by") != caller.email:
                return "conflict", "not_own_decision", lead
            # An undo names the decision it undoes: never another one (say, the same rep's
            # decision from another device, made after this one was refused).
            if m.reopens is not None and standing.get("id") not in (None, m.reopens):
                return "conflict", "not_own_decision", lead
            effective = domain.clamp_time(client_at, lead.assigned_at, received)
            lead.status, lead.bant, lead.decision = domain.apply(
                lead.status, lead.bant, lead.decision, {"type": "reopen"}, by=caller.email
            )
            lead.decided_at = None
            event = dict(
                lead_id=lead.id, user_id=caller.id, kind="reopen", outcome=None, reason=None,
                note=None, nurture_until=None, client_at=client_at, effective_at=effective,
                received_at=received, decision_id=standing.get("id"), client_id=client_id,
                mutation_seq=m.seq,
            )  # fmt: skip
        lead.version += 1
        lead.seq = seqs.next(lead.id, m.type)
        lead.updated_at = received
        if event is not None:
            event["seq"] = lead.seq
            events.append(event)
        return "applied", None, lead

    # ------------------------------------------------------------ marketing: feedback, reports

    def feedback(self, cursor: int, limit: int, digest: str | None = None) -> dict[str, Any]:
        """Decisions, reopenings and reassignments after `cursor`, in order. A cursor from
        another history (a restore; see pull) answers `reset` and starts from 0: a
        consumer drops the event_ids it has seen."""
        with self.db.read() as s:
            top = current_seq(s)
            here = self._here(s)
            # Nothing lies beyond the counter; and PostgreSQL's INTEGER column cannot
            # even compare with a cursor past 2**31 (a 500 before this clamp).
            reset = self._from_another_history(s, cursor, top, digest)
            cursor = 0 if reset else min(cursor, top)
            rows = s.execute(
                select(models.Event, models.Lead, models.User)
                .join(models.Lead, models.Lead.id == models.Event.lead_id)
                .join(models.User, models.User.id == models.Event.user_id)
                .where(models.Event.seq > cursor)
                .order_by(models.Event.seq)
                .limit(limit + 1)
            ).all()
            has_more = len(rows) > limit
            rows = rows[:limit]
            new_cursor = rows[-1][0].seq if has_more else top
            cursor_digest = self._digest(s, new_cursor)
        events = [
            {
                "cursor": e.seq,
                "lead_id": lead.id,
                "external_id": lead.external_id,
                "kind": e.kind,
                "outcome": e.outcome,
                "reason": e.reason,
                "note": e.note,
                "nurture_until": e.nurture_until.isoformat() if e.nurture_until else None,
                "rep": u.email,
                "campaign": lead.campaign,
                "source": lead.source,
                "at": _iso(e.effective_at),
                "received_at": _iso(e.received_at),
                "event_id": (
                    f"{e.kind}:{e.decision_id}"
                    if e.decision_id
                    else f"{e.kind}:{here['server_id']}:{e.seq}"
                ),
                "decision_id": e.decision_id,
            }
            for e, lead, u in rows
        ]
        return {
            "events": events, "cursor": new_cursor, "has_more": has_more, "reset": reset,
            **here, "cursor_digest": cursor_digest,
        }  # fmt: skip

    def report(self, by: str) -> dict[str, Any]:
        """The qualification report (all time), computed in SQL: triage.server.reports."""
        from triage.server import reports

        with self.db.read() as s:
            conn = s.connection()
            try:
                return reports.qualification(conn, reports.Context.load(conn, self._policy(s)), by)
            except reports.ReportError:
                raise ServiceError(400, "bad_group", "by must be campaign, source or rep") from None

    # ------------------------------------------------------------ inspection (tests, CLI)

    def lead(self, ref: str) -> dict[str, Any]:
        with self.db.read() as s:
            lead = self._find_lead(s, ref)
            owner = s.get(models.User, lead.owner_id) if lead.owner_id else None
            return lead_wire(lead, owner.email if owner else None)

    def assignment(self) -> dict[str, set[str]]:
        """Open leads by owner email: what each rep's queue should hold."""
        with self.db.read() as s:
            rows = s.execute(
                select(models.User.email, models.Lead.id)
                .join(models.User, models.User.id == models.Lead.owner_id)
                .where(models.Lead.status == domain.Status.OPEN.value)
            ).all()
        out: dict[str, set[str]] = defaultdict(set)
        for email, lead_id in rows:
            out[email].add(lead_id)
        return dict(out)

    def counts(self) -> dict[str, int]:
        with self.db.read() as s:
            leads = s.execute(select(func.count()).select_from(models.Lead)).scalar_one()
            events = s.execute(select(func.count()).select_from(models.Event)).scalar_one()
            users = s.execute(select(func.count()).select_from(models.User)).scalar_one()
        return {"leads": leads, "events": events, "users": users}


def _activities_json(acts: Iterable[domain.Activity]) -> list[dict[str, str]]:
    return [{"at": domain.format_time(a.at), "kind": a.kind, "detail": a.detail} for a in acts]


__all__ = [
    "Backend", "Caller", "Identity", "RowProblems", "ServiceError", "TokenInfo", "hash_token",
    "lead_wire",
]  # fmt: skip
