"""Marketing's imports: rows of a file (or of `POST /v1/leads`) created or updated by
external id, checked whole before anything is written, then written in chunks; given to reps (the row's owner, else `--owner` in turn)."""

from __future__ import annotations

import itertools
import json
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import IO, Any, Protocol

from sqlalchemy import Text, select, type_coerce
from sqlmodel import Session

from triage import domain
from triage.domain.codec import PROFILE_FIELDS
from triage.server import models
from triage.server.db import SeqAllocator, utcnow
from triage.server.services.common import RowProblems, ServiceError, _chunks
from triage.server.services.leads import (
    _by_external_id,
    _new_lead,
    _owner_problems,
    _parse_rows,
    insert_new_leads,
    recycles,
    revoke,
    write_attributes,
)
from triage.server.suggest import scoring
from triage.server.webhooks.events import Outbox

ON_DUPLICATE = ("link", "skip", "update")
# Rows written a transaction: the change counter (and on SQLite the file) is held for one
# chunk at a time, about 0.1 s, so reps' syncs go on during a large import.
CHUNK = 1000
ANALYZE_FIRST = 5000  # leads made before an import first refreshes the planner's statistics

Labelled = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """`owners`: reps who get, in turn, the new leads whose row names no owner (`--owner`).
    `on_duplicate`: a new lead whose email (case folded) is an open lead's: `link` it to that
    lead, `skip` the row, or `update` that lead with the row."""

    owners: tuple[str, ...] = ()
    on_duplicate: str = "link"


@dataclass
class ImportOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Labelled = field(default_factory=list)  # (row, why): not imported
    linked: Labelled = field(default_factory=list)  # (row, the open lead it may duplicate)
    recycled: Labelled = field(default_factory=list)  # (row, the cycle it ended)

    def notes(self) -> Labelled:
        """What happened to particular rows, in the file's order."""
        found = [(lb, f"skipped: {why}") for lb, why in self.skipped]
        found += [(lb, f"possible duplicate of {what}") for lb, what in self.linked]
        found += [(lb, f"new cycle: {what}") for lb, what in self.recycled]
        return sorted(found, key=lambda n: _line(n[0]))

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "skipped": len(self.skipped), "linked": len(self.linked),
                "recycled": len(self.recycled)}  # fmt: skip


def _line(label: str) -> int:
    tail = label.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def merged(problems: Sequence[tuple[str, list[str]]], labels: Sequence[str]) -> list:
    """Problems of the same row in one entry, in the rows' order."""
    by: dict[str, list[str]] = {}
    for label, found in problems:
        by.setdefault(label, []).extend(p for p in found if p not in by.get(label, []))
    order = {lb: i for i, lb in enumerate(labels)}
    return sorted(by.items(), key=lambda p: (order.get(p[0], 0), _line(p[0])))


class ImportsMixin:
    """Rows in, counted: created, updated, unchanged (and skipped, linked, recycled)."""

    def upsert_leads(
        self,
        rows: Sequence[dict[str, Any]],
        labels: Sequence[str] | None = None,
        *,
        known_problems: Sequence[tuple[str, list[str]]] = (),
        dry_run: bool = False,
    ) -> tuple[int, int, int]:
        """import_leads with the default options: (created, updated, unchanged)."""
        done = self.import_leads(rows, labels, known_problems=known_problems, dry_run=dry_run)
        return done.created, done.updated, done.unchanged

    def import_leads(
        self,
        rows: Sequence[dict[str, Any]],
        labels: Sequence[str] | None = None,
        *,
        known_problems: Sequence[tuple[str, list[str]]] = (),
        options: ImportOptions = ImportOptions(),
        skipped: Labelled = (),  # type: ignore[assignment]
        dry_run: bool = False,
        updates_only: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportOutcome:
        """import_batches of rows held whole (an upload, `POST /v1/leads`).

        Raises RowProblems naming every bad row (by `labels`, e.g. "line 7") with all of
        its problems, and writes nothing; ServiceError for an `--owner` who cannot take
        leads. `known_problems` are rows of the same file found bad before (unreadable
        lines, a map's problems): reported together with the problems of `rows`.
        `skipped`: rows the file's map left out, reported in the outcome."""
        labels = list(labels or [f"row {i}" for i in range(1, len(rows) + 1)])

        def batches() -> Iterator[Batch]:
            yield Batch([], [], list(known_problems), list(skipped))
            for start in range(0, len(rows), CHUNK):
                yield Batch(list(rows[start : start + CHUNK]), labels[start : start + CHUNK])

        return self.import_batches(
            batches(), options=options, dry_run=dry_run, updates_only=updates_only,
            progress=progress, order=labels,
        )  # fmt: skip

    def import_batches(
        self,
        batches: Iterable[BatchLike],
        *,
        options: ImportOptions = ImportOptions(),
        dry_run: bool = False,
        updates_only: bool = False,
        progress: Callable[[int, int], None] | None = None,
        order: Sequence[str] = (),
    ) -> ImportOutcome:
        """Create or update leads by external_id from a file read in batches
        (triage.server.importer.ImportStream), holding one batch of rows at a time.

        The whole file is checked first, and nothing written when a row is bad: the
        check pass spools each batch's checked rows to a temporary file (pickled), and
        the write pass reads them back, so the file is neither held nor parsed twice.
        The rows are then written in chunks, each its own transaction, so a rep's sync
        waits for a chunk at most, never for the import. A chunk that fails (a crash, a
        killed process) leaves the ones before it written: the import run again
        converges (it is an upsert by external_id). A lead that a row leaves unchanged is
        compared as a plain row, never loaded as an ORM object.

        `dry_run`: the same checks and counts, in a transaction that writes nothing.
        Raises RowProblems (every bad row, sorted by `order`, else by line) and
        ServiceError (a bad option or `--owner`). `updates_only`: the rows update leads
        that exist (found by external_id, else by email) and create none; a row's missing
        name and email are the lead's own. `progress(done, total)`: after each chunk."""
        if options.on_duplicate not in ON_DUPLICATE:
            raise ServiceError(400, "bad_option", f"on_duplicate: one of {', '.join(ON_DUPLICATE)}")
        with tempfile.TemporaryFile(prefix="triage-import-") as spool:
            with self.db.read() as s:
                turn = self._in_turn(s, options.owners)
                check = _Check(self, s, updates_only)
                for batch in batches:
                    inputs = check.add(batch)
                    if inputs and not check.problems:  # once a row is bad, only checked
                        pickle.dump(inputs, spool, pickle.HIGHEST_PROTOCOL)
                if check.problems:
                    raise RowProblems(merged(check.problems, order))
            spool.seek(0)
            outcome = ImportOutcome(skipped=check.skipped)
            if dry_run:
                with self.db.rehearsal() as s:
                    run = _Run(self, s, {}, {}, turn, options, True, outcome)
                    for inputs in _unspooled(spool):
                        self._chunk(s, inputs, run)
                return outcome
            done, analyzed_at = 0, ANALYZE_FIRST
            for inputs in _unspooled(spool):
                with self.db.write() as s:
                    self._chunk(s, inputs, _Run(self, s, {}, {}, turn, options, False, outcome))
                done += len(inputs)
                if progress is not None:
                    progress(done, check.good)
                if outcome.created >= analyzed_at:  # at 5,000 leads made, 10,000, 20,000...
                    self.db.refresh_statistics("lead")  # PostgreSQL's planner: see there
                    analyzed_at *= 2
                self.db.give_way()  # SQLite: writers waiting meanwhile go first
        return outcome

    def _chunk(self, s: Session, chunk: list[tuple[str, domain.LeadInput]], run: _Run) -> None:
        """Checked rows, in `run`'s transaction, the leads read again in it. A row that
        became a problem since the check (a rep decided the lead, the owner was deactivated
        meanwhile) is skipped, saying why."""
        outcome = run.outcome
        run.owners = self._reps_by_email(s, (i.owner for _, i in chunk if i.owner))
        found = _lead_rows(s, [i.external_id for _, i in chunk])
        late = dict(_owner_problems(chunk, run.owners, found))
        for label, why in late.items():
            outcome.skipped.append((label, f"changed during the import: {'; '.join(why)}"))
        chunk = [(label, item) for label, item in chunk if label not in late]
        same = {item.external_id for _, item in chunk
                if (row := found.get(item.external_id)) is not None
                and _unchanged(self, row, item, run.owners)}  # fmt: skip
        run.existing = _by_external_id(
            s, [i.external_id for _, i in chunk if i.external_id in found and i.external_id not in same]
        )  # fmt: skip
        run.write(chunk, same)

    def _in_turn(self, s: Session, emails: Sequence[str]) -> Iterator[models.User] | None:
        """The reps of `--owner`, in turn; ServiceError for one who cannot take leads."""
        if not emails:
            return None
        found = self._reps_by_email(s, emails)
        reps = []
        for email in emails:
            u = found.get(email.strip().lower())
            if u is None or u.role != domain.Role.REP:
                raise ServiceError(400, "bad_owner", f"--owner {email}: not a rep")
            if not u.active:
                raise ServiceError(400, "bad_owner", f"--owner {email}: deactivated")
            reps.append(u)
        return itertools.cycle(reps)


def _open_by_email(s: Session, emails: set[str]) -> dict[str, models.Lead]:
    """Open leads by their folded email (models.folded_email; the oldest when several
    share one), found by the `email_key` column and its index on both engines."""
    found: dict[str, models.Lead] = {}
    for chunk in _chunks(sorted(emails)):
        # by email alone, the status tested here: with `status = 'open'` in the query,
        # SQLite (no ANALYZE) read every open lead through an index that starts with the
        # status, and so did PostgreSQL while its statistics said the table was small (a
        # large first import: 20,000 rows took 25.3 s, 11.6 s so)
        q = (
            select(models.Lead)
            .where(models.Lead.email_key.in_(chunk))
            .order_by(models.Lead.created_at, models.Lead.id)
        )
        for lead in s.execute(q).scalars():
            if lead.status == domain.Status.OPEN.value:
                found.setdefault(_key(lead.email), lead)
    return found


def _key(email: str) -> str:
    return models.folded_email(email) or ""


@dataclass
class _Updates:
    """The rows of a file that only updates leads, each completed with its lead's
    external_id, name and email where the row has none; the rows that name no lead (bad
    rows), and those whose email is several leads' (skipped: nothing says which)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: list[tuple[str, list[str]]] = field(default_factory=list)
    skipped: Labelled = field(default_factory=list)


def _as_updates(s: Session, rows: Sequence[dict[str, Any]], labels: Sequence[str]) -> _Updates:
    by_id = _by_external_id(s, sorted({str(r["external_id"]) for r in rows
                                       if r.get("external_id")}))  # fmt: skip
    emails = {_key(str(r["email"])) for r in rows if r.get("email") and not r.get("external_id")}
    by_email: dict[str, list[models.Lead]] = {}
    for chunk in _chunks(sorted(emails)):
        q = select(models.Lead).where(models.Lead.email_key.in_(chunk))
        for lead in s.execute(q).scalars():
            by_email.setdefault(_key(lead.email), []).append(lead)
    out = _Updates()
    for label, row in zip(labels, rows, strict=True):
        ext, email = row.get("external_id"), str(row.get("email") or "")
        leads = [by_id[ext]] if ext in by_id else [] if ext else by_email.get(_key(email), [])
        what = f"external_id {ext!r}" if ext else f"email {email!r}" if email else "no id"
        if not leads:
            out.problems.append((label, [f"no lead with {what} (a file without a name column "
                                         "only updates leads)"]))  # fmt: skip
        elif len(leads) > 1:
            ids = ", ".join(sorted(x.external_id for x in leads))
            out.skipped.append((label, f"{len(leads)} leads have {what} ({ids})"))
        else:
            lead = leads[0]
            out.rows.append({**row, "external_id": lead.external_id,
                             "name": row.get("name") or lead.name,
                             "email": row.get("email") or lead.email})  # fmt: skip
            out.labels.append(label)
    return out


def _ended(status: str, decision: dict[str, Any], owner: models.User | None) -> str:
    reason = f" ({decision['reason']})" if decision.get("reason") else ""
    to = f"open for {owner.email}" if owner else "open, unassigned"
    return f"{status}{reason} -> {to}"


class BatchLike(Protocol):
    """Some lines of a file: rows by label, bad lines, lines a map skips (ImportFile)."""

    rows: list[dict[str, Any]]
    labels: list[str]
    problems: list[tuple[str, list[str]]]
    skipped: Labelled


@dataclass
class Batch:
    rows: list[dict[str, Any]]
    labels: list[str]
    problems: list[tuple[str, list[str]]] = field(default_factory=list)
    skipped: Labelled = field(default_factory=list)


class _Check:
    """The check pass over a whole file, a batch at a time, in one read transaction: the
    problems of every row (its own, an external_id repeated anywhere in the file, its
    owner), the rows skipped, and how many rows are good. Holds the file's external ids
    and the owners named, not its rows."""

    def __init__(self, backend: Any, s: Session, updates_only: bool):
        self.backend, self.s, self.updates_only = backend, s, updates_only
        self.seen: dict[str, str] = {}  # external_id -> the label of its row
        self.owners: dict[str, models.User] = {}
        self.asked: set[str] = set()
        self.problems: list[tuple[str, list[str]]] = []
        self.skipped: Labelled = []
        self.good = 0

    def add(self, batch: BatchLike) -> list[tuple[str, domain.LeadInput]]:
        """The batch's good rows, checked; its problems and skipped rows kept."""
        self.problems += batch.problems
        self.skipped += batch.skipped
        rows, labels = batch.rows, batch.labels
        if self.updates_only:  # the rows name leads by external_id or email: find them
            up = _as_updates(self.s, rows, labels)
            rows, labels = up.rows, up.labels
            self.problems += up.problems
            self.skipped += up.skipped
        inputs, problems = _parse_rows(rows, labels, (), seen=self.seen)
        self.problems += problems
        emails = {i.owner.lower() for _, i in inputs if i.owner} - self.asked
        self.asked |= emails
        self.owners.update(self.backend._reps_by_email(self.s, emails))
        found = _lead_rows(self.s, [i.external_id for _, i in inputs], _CHECKED)
        self.problems += _owner_problems(inputs, self.owners, found)
        self.good += len(inputs)
        return inputs


def _unspooled(spool: IO[bytes]) -> Iterator[list[tuple[str, domain.LeadInput]]]:
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


# What a lead is compared by (never its history, BANT or suggestion: an import does not
# change them), the JSON columns read as text and decoded here only: SQLAlchemy's JSON
# type cost 4 s of an unchanged 100,000-row import.
_JSON = ("evidence", "activities", "attributes", "decision")
_PLAIN = ("id", "external_id", "owner_id", "status", "mql_at", "name", "email", "score",
          *PROFILE_FIELDS)  # fmt: skip
_COMPARED = (
    *(models.Lead.__table__.columns[c] for c in dict.fromkeys(_PLAIN)),
    *(type_coerce(models.Lead.__table__.columns[c], Text).label(c) for c in _JSON),
)
# What the check pass reads: the owner, the status, the time of the MQL, the decision.
_CHECKED = (
    *(models.Lead.__table__.columns[c] for c in ("external_id", "owner_id", "status", "mql_at")),
    type_coerce(models.Lead.decision, Text).label("decision"),
)


def _lead_rows(
    s: Session, external_ids: list[str], columns: Sequence[Any] = _COMPARED
) -> dict[str, SimpleNamespace]:
    """Leads by external id as plain objects of the columns asked for (not ORM objects)."""
    found: dict[str, SimpleNamespace] = {}
    for chunk in _chunks(external_ids):
        q = select(*columns).where(models.Lead.external_id.in_(chunk))
        result = s.execute(q)
        keys = list(result.keys())
        decoded = [i for i, key in enumerate(keys) if key in _JSON]
        for row in result.tuples():
            values = list(row)
            for i in decoded:
                text = values[i]  # psycopg decodes json itself
                if isinstance(text, str):
                    values[i] = _decoded(text)
            lead = SimpleNamespace(**dict(zip(keys, values, strict=True)))
            found[lead.external_id] = lead
    return found


def _decoded(text: str) -> Any:
    """A JSON column's text decoded; the empty values (most leads' evidence, activities,
    attributes, decision) without the json module (100,000 leads: 400,000 of them)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text == "null":
        return None
    return json.loads(text)


def _unchanged(backend: Any, row: Any, item: domain.LeadInput, owners: dict) -> bool:
    """Whether the import row leaves the lead (a plain row) as it is: no new cycle, no
    new owner, no field changed (the same comparison _Run.update makes on the lead)."""
    if recycles(row, item):
        return False
    if item.owner and owners[item.owner.lower()].id != row.owner_id:
        return False
    return not backend._update_lead(SimpleNamespace(**vars(row)), item)


class _Run:
    """One import's writes in one transaction (a chunk of the file, or a dry run's all)."""

    def __init__(
        self,
        backend: Any,
        s: Session,
        owners: dict[str, models.User],
        existing: dict[str, models.Lead],
        turn: Iterator[models.User] | None,
        options: ImportOptions,
        dry_run: bool,
        outcome: ImportOutcome | None = None,
    ):
        self.backend = backend
        self.s = s
        self.owners = owners
        self.existing = existing
        self.turn = turn
        self.options = options
        self.dry_run = dry_run
        self.now: datetime = utcnow()
        self.seqs = SeqAllocator(s)
        self.outcome = outcome if outcome is not None else ImportOutcome()
        self.new_rows: list[Any] = []  # leads made by _new_lead, inserted at the end
        self.assigned: list[Any] = []  # leads given to a rep: suggestions, in one batch
        self.open_by_email: dict[str, Any] = {}  # open leads by email, lowercased
        self.asked: set[str] = set()  # the emails looked up in the database already
        # The leads updated: their attributes before this run, for the LeadAttribute rows
        self.attributes_before: dict[str, tuple[dict[str, Any] | None, Any]] = {}

    def owner_of(self, item: domain.LeadInput) -> models.User | None:
        """The row's owner, else the next `--owner` (a new lead only: see callers)."""
        if item.owner:
            return self.owners[item.owner.lower()]
        return next(self.turn) if self.turn is not None else None

    def write(
        self,
        inputs: list[tuple[str, domain.LeadInput]],
        same: frozenset[str] | set[str] = frozenset(),
    ) -> ImportOutcome:
        """`same`: the external ids of leads the rows leave as they are (counted only).
        Called once per chunk; a dry run's one _Run is called for every chunk, and keeps
        the leads it made as open leads by email for the chunks after."""
        fresh = {_key(i.email) for _, i in inputs
                 if i.external_id not in self.existing and i.external_id not in same}  # fmt: skip
        fresh -= self.asked
        self.asked |= fresh
        for email, lead in _open_by_email(self.s, fresh).items():
            self.open_by_email.setdefault(email, lead)
        for label, item in inputs:
            if item.external_id in same:
                self.outcome.unchanged += 1
                continue
            lead = self.existing.get(item.external_id)
            if lead is None:
                self.create(label, item)
            else:
                self.update(label, lead, item)
        if not self.dry_run:  # a dry run writes nothing, not even the change log
            scoring.suggest(self.s, self.assigned)
            insert_new_leads(self.s, self.new_rows)
            self.write_attributes()
            self.seqs.close()
            self.assigned, self.new_rows = [], []
            self.attributes_before = {}  # this chunk's are written
        return self.outcome

    def write_attributes(self) -> None:
        """The LeadAttribute rows of the leads made and updated, as they end this run (a
        lead made may have been updated by a later row: it is written once, as made)."""
        made = {lead.id for lead in self.new_rows}
        write_attributes(self.s, [
            *((lead.id, None, lead.attributes) for lead in self.new_rows),
            *((lead_id, before, lead.attributes)
              for lead_id, (before, lead) in self.attributes_before.items()
              if lead_id not in made),
        ])  # fmt: skip

    def touch(self, lead: Any) -> None:
        """Before a lead is updated: its attributes as they were (write_attributes)."""
        self.attributes_before.setdefault(lead.id, (lead.attributes, lead))

    def create(self, label: str, item: domain.LeadInput) -> None:
        key = _key(item.email)
        other = self.open_by_email.get(key)
        if other is not None and self.options.on_duplicate == "skip":
            self.outcome.skipped.append((label, f"the email of open lead {other.external_id}"))
            return
        if other is not None and self.options.on_duplicate == "update":
            self.outcome.linked.append((label, f"{other.external_id}, updated with this row"))
            self.update(label, other, item)
            return
        owner = self.owner_of(item)
        lead = _new_lead(item, owner, self.seqs, self.now)
        if owner is not None and not self.dry_run:
            Outbox.of(self.s).assigned(lead, owner.email, None, self.now)
            self.assigned.append(lead)
        if other is not None:
            lead.duplicate_of = self.described(other)
            self.outcome.linked.append((label, f"{other.external_id} ({other.name})"))
        self.open_by_email.setdefault(key, lead)
        self.new_rows.append(lead)
        self.outcome.created += 1

    def described(self, other: models.Lead) -> dict[str, str]:
        """What a rep is shown of the lead a new one may duplicate."""
        owner = self.s.get(models.User, other.owner_id) if other.owner_id else None
        found = {"id": other.id, "external_id": other.external_id, "name": other.name}
        return found | ({"owner": owner.email} if owner else {})

    def update(self, label: str, lead: models.Lead, item: domain.LeadInput) -> None:
        self.touch(lead)
        if recycles(lead, item):
            self.recycle(label, lead, item)
            return
        owner = self.owners[item.owner.lower()] if item.owner else None
        changed = self.backend._update_lead(lead, item)
        if owner is not None and lead.owner_id != owner.id:
            if not self.dry_run:
                self.backend._reassign(self.s, lead, owner, self.seqs, self.now)
                self.assigned.append(lead)
            changed = True
        if changed:
            self.bump(lead, "update")
            self.outcome.updated += 1
        else:
            self.outcome.unchanged += 1

    def recycle(self, label: str, lead: models.Lead, item: domain.LeadInput) -> None:
        """A newer MQL of a nurtured or rejected lead: a new cycle. Its decision joins its
        history; it is open again for the row's owner, else the next `--owner`, else its
        previous owner while an active rep, else no one; its SLA clock starts again."""
        s = self.s
        previous = s.get(models.User, lead.owner_id) if lead.owner_id else None
        owner = self.owner_of(item)
        if owner is None and previous is not None and previous.active:
            owner = previous if previous.role == domain.Role.REP else None
        decision = dict(lead.decision or {})
        self.backend._update_lead(lead, item)
        self.outcome.recycled.append((label, _ended(lead.status, decision, owner)))
        if self.dry_run:
            return
        self.backend._set_aside(s, lead, owner, None, self.now, cause="newer_mql")
        if owner is not None:
            self.assigned.append(lead)
        if owner is None:
            lead.owner_id, lead.assigned_at = None, None
            lead.seq = self.seqs.next(lead.id, "cycle")
            if previous is not None:
                revoke(s, previous.id, lead.id, lead.seq)
        elif previous is None or owner.id != previous.id:
            self.backend._reassign(s, lead, owner, self.seqs, self.now)
        else:
            lead.assigned_at = self.now  # a new cycle: the SLA clock starts again
            lead.seq = self.seqs.next(lead.id, "cycle")
        if previous is not None:  # the feedback stream: this decision no longer stands
            s.add(models.Event(
                seq=lead.seq, lead_id=lead.id, user_id=previous.id, kind="recycle",
                client_at=self.now, effective_at=self.now, received_at=self.now,
                decision_id=decision.get("id"),
            ))  # fmt: skip
        lead.version += 1
        lead.updated_at = self.now

    def bump(self, lead: models.Lead, kind: str) -> None:
        lead.version += 1
        lead.seq = self.seqs.next(lead.id, kind)
        lead.updated_at = self.now
