"""Marketing's leads: upsert by external id, assignment, a new cycle by --force."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.db import SeqAllocator, executemany, insert_rows, utcnow
from triage.server.services.common import (
    ServiceError,
    _chunks,
    _iso,
    _utc,
    lead_wire,
)
from triage.server.suggest import scoring
from triage.server.webhooks.events import Outbox


class LeadsMixin:
    """Leads in and across reps, each change numbered."""

    def _reps_by_email(self, s: Session, emails: Iterable[str]) -> dict[str, models.User]:
        wanted = sorted({e.lower() for e in emails})
        found: dict[str, models.User] = {}
        for chunk in _chunks(wanted):
            for u in s.execute(select(models.User).where(models.User.email.in_(chunk))).scalars():
                found[u.email] = u
        return found

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
        if item.attributes is not None and item.attributes != (lead.attributes or {}):
            lead.attributes = item.attributes or None
            changed = True
        return changed

    @staticmethod
    def _reassign(
        s: Session, lead: models.Lead, owner: models.User, seqs: SeqAllocator, now: datetime
    ) -> None:
        """Move a lead to `owner`; the previous owner gets a revocation at this change number."""
        seq = seqs.next(lead.id, "assign")
        if lead.owner_id is not None:
            revoke(s, lead.owner_id, lead.id, seq)
        s.execute(
            delete(models.Revocation).where(
                models.Revocation.user_id == owner.id, models.Revocation.lead_id == lead.id
            )
        )
        previous = lead.owner_id
        lead.owner_id = owner.id
        lead.assigned_at = now
        lead.first_decided_at = None  # a new assignment: no decision in it yet
        lead.seq = seq
        Outbox.of(s).assigned(lead, owner.email, previous, now)

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
                scoring.suggest(s, [lead])  # its suggestion, for its (new) cycle
                if decided:
                    set_aside = (lead.history or [{}])[-1]
                    s.add(models.Event(
                        seq=lead.seq, lead_id=lead.id, user_id=owner.id, kind="reassign",
                        client_at=now, effective_at=now, received_at=now,
                        decision_id=set_aside.get("id"),
                    ))  # fmt: skip
                lead.version += 1
                lead.updated_at = now
                seqs.close()
            return lead_wire(lead, owner.email)

    @staticmethod
    def _set_aside(
        s: Session,
        lead: models.Lead,
        owner: models.User | None,
        by: str | None,
        now: datetime,
        cause: str | None = None,
    ) -> None:
        """End the lead's cycle: its decision, note included, joins its history; the lead
        is open again. `cause`: why, when not a reassignment ("newer_mql": an import)."""
        previous = s.get(models.User, lead.owner_id) if lead.owner_id else None
        entry = {
            **(lead.decision or {"outcome": None}),
            "decided_at": _iso(lead.decided_at),
            "owner": previous.email if previous else None,
            "bant": lead.bant,
            "ended_at": _iso(now),
            "ended_by": by,
            "reassigned_to": owner.email if owner else None,
            **({"cause": cause} if cause else {}),
        }
        lead.history = [*(lead.history or []), entry]
        status = lead.status
        lead.status = domain.Status.OPEN.value
        Outbox.of(s).reopened(lead, status, entry, by=by, cause=cause or "reassigned", at=now)
        lead.decision = None
        lead.decided_at = None
        lead.first_decided_at = None

    def lead(self, ref: str) -> dict[str, Any]:
        with self.db.read() as s:
            lead = self._find_lead(s, ref)
            owner = s.get(models.User, lead.owner_id) if lead.owner_id else None
            return lead_wire(lead, owner.email if owner else None)


def revoke(s: Session, user_id: int, lead_id: str, seq: int) -> None:
    """The lead leaves `user_id`'s queue at change `seq` (a revocation in their pull)."""
    found = s.get(models.Revocation, (user_id, lead_id))
    if found is None:
        s.add(models.Revocation(user_id=user_id, lead_id=lead_id, seq=seq))
    else:
        found.seq = seq


def _parse_rows(
    rows: Sequence[dict[str, Any]],
    labels: Sequence[str],
    known_problems: Sequence[tuple[str, list[str]]],
    *,
    seen: dict[str, str] | None = None,
) -> tuple[list[tuple[str, domain.LeadInput]], list[tuple[str, list[str]]]]:
    """Each row checked on its own (domain.parse_import_row), and repeats of an
    external_id within the file: (the good rows with their labels, the problems).
    `seen`: the external ids of the file's rows before these, with their labels (a
    file checked in batches); filled in."""
    problems: list[tuple[str, list[str]]] = list(known_problems)
    inputs: list[tuple[str, domain.LeadInput]] = []
    seen = {} if seen is None else seen
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
    return inputs, problems


def _by_external_id(s: Session, external_ids: list[str]) -> dict[str, models.Lead]:
    existing: dict[str, models.Lead] = {}
    for chunk in _chunks(external_ids):
        for lead in s.execute(
            select(models.Lead).where(models.Lead.external_id.in_(chunk))
        ).scalars():
            existing[lead.external_id] = lead
    return existing


def _owner_problems(
    inputs: list[tuple[str, domain.LeadInput]],
    owners: dict[str, models.User],
    existing: dict[str, models.Lead],
) -> list[tuple[str, list[str]]]:
    """Owners a row may not name: unknown, not a rep, deactivated; and a decided lead
    moved (that is `assign --force`, a new cycle, never an import)."""
    problems: list[tuple[str, list[str]]] = []
    for label, item in inputs:
        if not item.owner:
            continue
        u = owners.get(item.owner.lower())
        if u is None:
            problems.append((label, [f"owner {item.owner} is not a user"]))
            continue
        if u.role != domain.Role.REP:
            problems.append((label, [f"owner {item.owner} is not a rep"]))
            continue
        lead = existing.get(item.external_id)
        if lead is not None and lead.owner_id == u.id and not recycles(lead, item):
            continue  # a new cycle is a new assignment: checked below
        # A deactivated rep keeps the leads they have; no lead is given to them.
        if not u.active:
            problems.append((label, [f"owner {item.owner} is deactivated"]))
        elif (
            lead is not None
            and lead.status != domain.Status.OPEN.value
            and not recycles(lead, item)
        ):
            by = (lead.decision or {}).get("by") or "its owner"
            problems.append(
                (label, [f"{item.external_id} was {lead.status} by {by}; a decided lead "
                         "changes owner only with `triage server assign --force`"])
            )  # fmt: skip
    return problems


RECYCLED = (domain.Status.NURTURE.value, domain.Status.REJECTED.value)


def recycles(lead: models.Lead, item: domain.LeadInput) -> bool:
    """A row that starts a new cycle of a nurtured or rejected lead: a newer MQL time."""
    if lead.status not in RECYCLED or "mql_at" not in item.fields:
        return False
    newer = _utc(item.fields["mql_at"])
    return lead.mql_at is None or (newer is not None and newer > _utc(lead.mql_at))


def _new_lead(
    item: domain.LeadInput, owner: models.User | None, seqs: SeqAllocator, now: datetime
) -> SimpleNamespace:
    """A lead an import creates: every column of the lead table as an attribute, for one
    executemany at the end of the chunk (insert_new_leads). Building a SQLModel object per
    row cost half an import's time (660,000 validated setattrs for 20,000 rows)."""
    lead_id = new_lead_id()
    given = {k: v for k, v in item.fields.items() if k != "mql_at"}
    return SimpleNamespace(**_LEAD_DEFAULTS | given | {
        "id": lead_id, "external_id": item.external_id, "seq": seqs.next(lead_id, "import"),
        "owner_id": owner.id if owner else None, "assigned_at": now if owner else None,
        "name": item.name, "email": item.email, "email_key": models.folded_email(item.email),
        "evidence": dict(item.evidence),
        "activities": _activities_json(item.activities or ()),
        "attributes": item.attributes or None, "bant": {}, "created_at": now,
        "updated_at": now, "mql_at": _utc(item.fields.get("mql_at")) or now,
    })  # fmt: skip


class _LeadIds:
    """New leads' ids: 12 hex digits, a random prefix of 9 then a count of 3, a new prefix
    every 4,096 ids (and in each process). Ids made together sort together, so a chunk's
    new leads go into one place of each index that ends in the id (the primary key,
    ix_lead_reason, ix_lead_mql_at ...) rather than into a thousand random pages of
    each: 100,000 leads written in chunks of 1,000 on SQLite took 36 s with random ids,
    10 s so (bench/import_big.py). Two prefixes are alike once in 2**36 draws (random
    ids of 48 bits met once in 2**24 leads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.prefix, self.count = "", 4096

    def __call__(self) -> str:
        with self.lock:
            if self.count == 4096:
                self.prefix, self.count = secrets.token_hex(5)[:9], 0
            self.count += 1
            return f"{self.prefix}{self.count - 1:03x}"


new_lead_id = _LeadIds()
_LEAD_COLUMNS = tuple(c.name for c in models.Lead.__table__.columns)
_LEAD_DEFAULTS = {name: None for name in _LEAD_COLUMNS} | {"version": 1, "status": "open"}
_INSERT_LEAD = insert_rows(models.Lead.__table__, _LEAD_COLUMNS)


def insert_new_leads(s: Session, leads: Sequence[SimpleNamespace]) -> None:
    """The leads _new_lead made, in one executemany of the driver."""
    executemany(s, _INSERT_LEAD, [vars(lead) for lead in leads])


_ATTRIBUTE = models.LeadAttribute.__table__
_INSERT_ATTRIBUTE = insert_rows(_ATTRIBUTE, ("key", "lead_id", "value"))
_DELETE_ATTRIBUTE = delete(_ATTRIBUTE).where(
    _ATTRIBUTE.c.key == bindparam("key"), _ATTRIBUTE.c.lead_id == bindparam("lead_id")
)


def write_attributes(
    s: Session, changes: Iterable[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]
) -> None:
    """Keep the LeadAttribute rows in step with `lead.attributes`: for each (lead id,
    attributes before, attributes now; before None for a new lead) the rows of keys gone
    or changed deleted and those new or changed inserted, in two executemany."""
    gone: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for lead_id, before, after in changes:
        if before == after:
            continue
        old = {r["key"]: r for r in models.attribute_rows(lead_id, before)}
        for row in models.attribute_rows(lead_id, after):
            was = old.pop(row["key"], None)
            if was is None or was["value"] != row["value"]:
                new.append(row)
                if was is not None:
                    gone.append(was)
        gone.extend(old.values())
    executemany(s, _DELETE_ATTRIBUTE, gone)
    executemany(s, _INSERT_ATTRIBUTE, new)


def _activities_json(acts: Iterable[domain.Activity]) -> list[dict[str, str]]:
    return [{"at": domain.format_time(a.at), "kind": a.kind, "detail": a.detail} for a in acts]
