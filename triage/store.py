"""The client's local SQLite store: leads, outbox, undo journal, conflicts, sync state.

Plain ``sqlite3`` on purpose: the TUI must paint its first screen fast, and a
10,000-lead bulk decision must be one quick transaction. The store speaks
domain objects only (``triage.domain``); it knows nothing of the wire, the UI
or the network.

The model:

* ``lead_server`` holds the *server state* of each lead (the full lead, JSON).
  ``outbox`` holds the rep's mutations until the server answers for them.
  The *local view* of a lead is always the server state with its outbox rows
  replayed in order (:func:`_replay`); :meth:`Store.lead` derives it on read.
* ``leads`` is the queue's projection: the columns the queue shows, filters
  and sorts on, including the view's ``status`` and ``bant_*`` answers.
  :meth:`Store._recompute` is the one place that refreshes those two from
  the replay (a decision may also set ``status`` directly: the same value).
* Protocol seq numbers are assigned lazily by :meth:`Store.pending`, the
  first time a row is handed out for pushing, so an undo that deletes
  never-sent rows leaves no gap in the seqs the server sees. A row with a
  seq may have reached the server: it is never deleted except by the
  server's answer (a push result, or ``last_seq`` from a pull). Undo
  compensates for it instead (``reopen``, or a ``bant`` mutation restoring
  the previous answer).
* ``actions`` / ``action_leads`` are the undo journal, and with
  ``conflicts`` also the lead's history.
* Every user action is one ``BEGIN IMMEDIATE`` transaction that writes the
  new view, its outbox rows and the undo journal together.

Schema changes: append a function to ``_MIGRATIONS``; ``PRAGMA user_version``
records how many have run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from triage import domain
from triage.config import ensure_private_db_file, ensure_private_dir
from triage.domain import BANT_KEYS, Answer, Outcome, Status

SQLITE_MAGIC = b"SQLite format 3\x00"
APP_ID = "triage"
MAX_NOTE = 2000  # the protocol's limit on a note: a longer one could never be pushed
_CHUNK = 900  # ids per IN (...) list, below SQLite's bound-parameter limit
_CACHE_KIB = 32 * 1024  # page cache per connection: a 100k-lead queue stays in memory
_NO_TIME = 1e18  # mql_sort of a lead without mql_at: after every real time
_BANT_COLUMNS = {key: f"bant_{key}" for key in BANT_KEYS}
_BANT_SQL = ", ".join(_BANT_COLUMNS.values())
_UNKNOWN = Answer.UNKNOWN.value
_REFUSED = ("conflict", "invalid", "revoked")  # results of mutations that never took effect


class StoreError(Exception):
    """The database cannot be used (not ours, corrupt, newer, closed, I/O error)."""


class ActionError(Exception):
    """A user action that was refused; nothing was written. `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SyncState:
    cursor: int
    last_seq: int  # the server's last processed seq for this client, as last reported
    last_sync: datetime | None
    last_error: str | None
    policy_version: int  # 0 until a policy has been saved
    cursor_digest: str | None = None  # the server's digest of the change at `cursor`
    acked_seq: int = 0  # the highest last_seq the server ever reported for this client
    healing: bool = False  # the server's history went back; the heal has not finished
    server_id: str | None = None  # the server this queue belongs to (once known)
    epoch: int | None = None  # its history's epoch, as last seen


@dataclass(frozen=True, slots=True)
class Healed:
    """What a heal did after the server's history went back."""

    resent: int  # decisions (and undos) the server had lost, queued again
    revoked: int  # leads no longer the rep's on the restored server
    conflicts: int  # cards made (what was sent again; what could not be)


@dataclass(frozen=True, slots=True)
class PullApplied:
    leads: int  # server lead states written
    revoked: int  # leads removed because they are no longer the rep's
    conflicts: int  # conflict rows made from mutations of revoked leads
    processed: int  # outbox rows dropped because the server's last_seq covers them
    reset_dropped: int = 0  # leads dropped by a reset


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    lead_id: str
    type: str  # decide | bant | reopen
    payload: dict[str, Any]  # outcome, reason, note, bant, nurture_until, at, base_version


@dataclass(frozen=True, slots=True)
class PushResult:
    seq: int
    status: str  # applied | duplicate | conflict | invalid | out_of_order
    error: str | None = None
    lead: domain.Lead | None = None
    stored: str | None = None  # with duplicate: what the first processing answered


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: str
    name: str
    title: str | None
    company: str | None
    source: str | None
    campaign: str | None
    score: int
    mql_at: datetime | None
    status: str
    bant: tuple[str, str, str, str]  # answers in BANT_KEYS order
    pending: bool  # the lead has outbox rows the server has not answered yet
    sla_at: datetime | None = None  # when its SLA clock started (domain.sla_start)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    kind: str  # decide | undo | conflict
    outcome: str | None
    reason: str | None
    note: str | None
    error: str | None = None  # conflict: the server's error code


@dataclass(frozen=True, slots=True)
class ActionResult:
    action_id: str
    count: int
    lead_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UndoResult:
    action_id: str
    kind: str  # decide | bant
    count: int
    via_reopen: bool  # compensating mutations were queued (part of it had been sent)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    pending: int
    conflicts: int
    open: int
    decided_today: int
    last_sync: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PendingCounts:
    """Outbox rows not answered by the server yet: decisions (decide, and reopen: an
    undone decision) apart from BANT checklist answers."""

    decisions: int
    answers: int

    @property
    def total(self) -> int:
        return self.decisions + self.answers

    def parts(self) -> str:
        """`2 decisions, 1 checklist answer`."""
        return f"{_plural(self.decisions, 'decision')}, {_plural(self.answers, 'checklist answer')}"

    def describe(self, state: str = "pending") -> str:
        """`3 changes pending (2 decisions, 1 checklist answer)`; `state` names the state."""
        return f"{_plural(self.total, 'change')} {state} ({self.parts()})"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


@dataclass(frozen=True, slots=True)
class ConflictEntry:
    id: int
    lead_id: str
    lead_name: str | None
    seq: int | None  # None: never sent (its lead was revoked first)
    status: str  # conflict | invalid
    error: str | None
    server_lead: domain.Lead | None
    mutation: dict[str, Any]  # seq, lead_id, type and the payload fields
    created_at: datetime


# ---------------------------------------------------------------- codec


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _epoch(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, timezone.utc)


# The JSON form of a lead is the protocol's, kept in domain so the store needs no pydantic.
_decision_to_dict = domain.decision_to_dict
_decision_from_dict = domain.decision_from_dict
_lead_to_dict = domain.lead_to_dict
_lead_from_dict = domain.lead_from_dict


def _search_text(lead: domain.Lead) -> str:
    """What free words of a filter match: folded like the words (domain.fold)."""
    parts = (lead.name, lead.company, lead.title, lead.email, lead.campaign, lead.source)
    return domain.fold("\n".join(p for p in parts if p))


def _key(value: str | None) -> str | None:
    return domain.fold(value) or None if value else None


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


def _queue_view(status: str, bant: dict[str, str]) -> tuple[str, ...]:
    return (status, *(bant.get(k, _UNKNOWN) for k in BANT_KEYS))


def _lead_row(lead: domain.Lead) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The `leads` and `lead_server` rows of a server lead (its view = its server state)."""
    server = _lead_to_dict(lead)
    mql = _epoch(lead.mql_at)
    sla = _epoch(domain.sla_start(lead.assigned_at, lead.mql_at))
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
        *_queue_view(server["status"], server["bant"]),
    )
    return row, (lead.id, lead.version, _dumps(server))


def _marks(n: int) -> str:
    return ",".join("?" * n)


_LEAD_COLUMNS = (
    "id", "version", "name", "title", "company", "source", "campaign", "source_key",
    "campaign_key", "score", "mql_at", "mql_sort", "sla_at", "sla_sort", "name_key",
    "company_key", "search", "external_id",
    "status", *_BANT_COLUMNS.values(),
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
    "sla_at, "
    "EXISTS (SELECT 1 FROM outbox WHERE outbox.lead_id = leads.id)"
)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_ids(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" (and {len(ids) - limit} more)" if len(ids) > limit else "")


# ---------------------------------------------------------------- schema


def _migration_1(conn: sqlite3.Connection) -> None:
    """The initial schema."""
    bant_cols = "\n".join(f"  {c} TEXT NOT NULL DEFAULT 'unknown'," for c in _BANT_COLUMNS.values())
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID")
    conn.execute(
        f"""CREATE TABLE leads (          -- the queue's projection of each lead
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,       -- server version: base_version of new mutations
  name TEXT NOT NULL,
  title TEXT,
  company TEXT,
  source TEXT,
  campaign TEXT,
  source_key TEXT,                -- lower(source)
  campaign_key TEXT,              -- lower(campaign)
  score INTEGER NOT NULL,
  mql_at REAL,                    -- unix seconds
  mql_sort REAL NOT NULL,         -- mql_at, or far future when unknown
  name_key TEXT NOT NULL,         -- casefolded, for sorting
  company_key TEXT NOT NULL,
  search TEXT NOT NULL,           -- lowercased name, company, title, email, campaign
  status TEXT NOT NULL,           -- the local view (server state + outbox replayed)
{bant_cols}
  CHECK (status IN ('open', 'accepted', 'rejected', 'nurture'))
) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE lead_server (     -- the server state of each lead, in full
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  json TEXT NOT NULL
)"""
    )
    conn.execute(
        """CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  seq INTEGER UNIQUE,             -- protocol seq, NULL until handed out by pending()
  action_id TEXT NOT NULL,
  lead_id TEXT NOT NULL,          -- no foreign key: a sent row outlives a revoked lead
  type TEXT NOT NULL CHECK (type IN ('decide', 'bant', 'reopen')),
  payload TEXT NOT NULL,          -- JSON: the protocol fields but seq, lead_id, type
  actor TEXT,                     -- the rep's email: the view's decision.by
  created_at REAL NOT NULL
)"""
    )
    conn.execute("CREATE INDEX outbox_lead ON outbox(lead_id)")
    conn.execute("CREATE INDEX outbox_action ON outbox(action_id)")
    conn.execute(
        """CREATE TABLE actions (         -- the undo journal
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  action_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('decide', 'bant')),
  detail TEXT NOT NULL,           -- JSON: decide: outcome, reason, note, at; bant: key, answer
  count INTEGER NOT NULL,
  created_at REAL NOT NULL,
  undone_at REAL
)"""
    )
    conn.execute("CREATE INDEX actions_created ON actions(created_at)")
    conn.execute(
        """CREATE TABLE action_leads (
  action_id TEXT NOT NULL REFERENCES actions(action_id),
  lead_id TEXT NOT NULL,
  prior TEXT,                     -- bant: the answer before
  result TEXT,                    -- applied | conflict | invalid | revoked | processed
  PRIMARY KEY (action_id, lead_id)
) WITHOUT ROWID"""
    )
    conn.execute("CREATE INDEX action_leads_lead ON action_leads(lead_id)")
    conn.execute(
        """CREATE TABLE conflicts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  lead_id TEXT NOT NULL,
  lead_name TEXT,
  seq INTEGER,
  status TEXT NOT NULL CHECK (status IN ('conflict', 'invalid')),
  error TEXT,
  server_json TEXT,               -- the server's version of the lead, when it sent one
  mutation TEXT NOT NULL,         -- JSON: seq, lead_id, type + payload
  created_at REAL NOT NULL,
  resolved_at REAL
)"""
    )
    conn.execute("CREATE INDEX conflicts_lead ON conflicts(lead_id)")
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [
            ("app", APP_ID),
            ("client_id", str(uuid.uuid4())),
            ("cursor", "0"),
            ("last_seq", "0"),
            ("next_seq", "1"),
        ],
    )


def _migration_2(conn: sqlite3.Connection) -> None:
    """Indexes for the two sorts used most: the queue page walks one in order.

    Only two: a decision rewrites every index on `status`, and a bulk decision
    must stay quick. The other sorts, and any filtered query, scan the compact
    `leads` table and sort (tens of ms at 100k leads; see Store._where).

    Kept apart from the initial schema so the forward path (open an older
    file, migrate it) is exercised from the first release on.
    """
    conn.execute("CREATE INDEX leads_sla ON leads(status, mql_sort, score DESC)")
    conn.execute("CREATE INDEX leads_score ON leads(status, score DESC, mql_sort)")


def _migration_3(conn: sqlite3.Connection) -> None:
    """Free words also match the source (reps typed `/tradeshow` and found nothing)."""
    conn.execute(
        "UPDATE leads SET search = search || char(10) || source_key WHERE source_key IS NOT NULL"
    )


def _migration_4(conn: sqlite3.Connection) -> None:
    """One SLA clock (from assignment, else the MQL time: domain.sla_start), and free words,
    sources and campaigns matched with case and accents folded ("schafer" finds "Schäfer")."""
    conn.execute("ALTER TABLE leads ADD COLUMN sla_at REAL")  # unix seconds
    conn.execute(f"ALTER TABLE leads ADD COLUMN sla_sort REAL NOT NULL DEFAULT {_NO_TIME}")
    updates = []
    for lead_id, server_json in conn.execute("SELECT id, json FROM lead_server"):
        d = json.loads(server_json)
        start = d.get("assigned_at") or d.get("mql_at")
        sla = domain.parse_time(start).timestamp() if start else None
        parts = [d.get(k) for k in ("name", "company", "title", "email", "campaign", "source")]
        updates.append((
            sla, _NO_TIME if sla is None else sla,
            domain.fold("\n".join(p for p in parts if p)),
            _key(d.get("source")), _key(d.get("campaign")), lead_id,
        ))  # fmt: skip
    conn.executemany(
        "UPDATE leads SET sla_at = ?, sla_sort = ?, search = ?, source_key = ?, campaign_key = ? "
        "WHERE id = ?",
        updates,
    )
    conn.execute("DROP INDEX leads_sla")
    conn.execute("DROP INDEX leads_score")
    conn.execute("CREATE INDEX leads_sla ON leads(status, sla_sort, score DESC)")
    conn.execute("CREATE INDEX leads_score ON leads(status, score DESC, sla_sort)")


def _migration_5(conn: sqlite3.Connection) -> None:
    """An undo's compensation names the outbox row it compensates: it is neither numbered
    nor sent until that row has its answer, and goes with it when the answer is a refusal."""
    conn.execute("ALTER TABLE outbox ADD COLUMN compensates INTEGER")
    conn.execute("CREATE INDEX outbox_compensates ON outbox(compensates)")


def _migration_6(conn: sqlite3.Connection) -> None:
    """The marketing system's id of each lead (`HS-2011`), indexed: reps name leads by it
    (`triage decide reject HS-2011`). Filled from the lead JSON kept in lead_server."""
    conn.execute("ALTER TABLE leads ADD COLUMN external_id TEXT")
    rows = conn.execute("SELECT id, json FROM lead_server")
    while batch := rows.fetchmany(_CHUNK):
        conn.executemany(
            "UPDATE leads SET external_id = ? WHERE id = ?",
            [(json.loads(text).get("external_id"), lead_id) for lead_id, text in batch],
        )
    conn.execute("CREATE INDEX leads_external ON leads(external_id)")


def _migration_7(conn: sqlite3.Connection) -> None:
    """Each decision's identity in the journal ("client_id:seq" of its first sending): an
    undo names the decision it undoes, and after a server restore a decision the server
    lost is sent again as the same decision."""
    conn.execute("ALTER TABLE action_leads ADD COLUMN decision_id TEXT")


_MIGRATIONS = (
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6,
    _migration_7,
)  # fmt: skip
SCHEMA_VERSION = len(_MIGRATIONS)

_ORDER = {
    "sla": "sla_sort, score DESC, id",  # longest on the SLA clock first (most urgent)
    "score": "score DESC, sla_sort, id",
    "age": "sla_at DESC, id DESC",  # newest on the rep's clock first; unknown last
    "name": "name_key, id",
    "company": "company_key, name_key, id",
}
_INDEXED_SORTS = ("sla", "score")


def _inspect(path: Path) -> int | None:
    """The schema version of an existing triage file; None for a new or empty one.

    Read-only: a file that is not ours is refused without being changed.
    """
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the database: {exc.strerror or exc}") from None
    # No plain open() of the file here: closing any descriptor of a database file drops
    # every POSIX lock this process holds on it, including those of the UI's own SQLite
    # connection, and another process could then checkpoint and delete the WAL under it
    # (found: "database disk image is malformed"). SQLite's read-only connection tells a
    # foreign or corrupt file apart by itself.
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}") from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        app = None
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'app'").fetchone()
            app = row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a triage database (corrupt or not SQLite: {exc})") from None
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read the database: {exc}") from None
    finally:
        conn.close()
    if not tables and version == 0:
        return None
    if app != APP_ID:
        raise StoreError(
            f"{path}: not a triage database (an SQLite file of another application); "
            "move it away or point TRIAGE_HOME elsewhere"
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer triage (schema version {version}; this one knows "
            f"up to {SCHEMA_VERSION}); upgrade triage"
        )
    if version < 1:
        raise StoreError(f"{path}: a triage database without a schema version; it may be damaged")
    return version


def _what_it_did(row: tuple | None, lead: domain.Lead | None, actor: str | None) -> str:
    """A `duplicate` answer without `stored` (an older or buggy server): applied when the
    server's lead shows this mutation's effect, else "unknown" (never taken for applied:
    a refusal would vanish)."""
    if row is None or lead is None:
        return "unknown"
    _row_id, _lead_id, kind, payload_json, _action_id, _name = row
    payload = json.loads(payload_json)
    if kind == "decide":
        d = lead.decision
        same = d is not None and d.outcome.value == payload["outcome"] and d.by == actor
        return "applied" if same else "unknown"
    if kind == "reopen":
        return "applied" if lead.status is Status.OPEN else "unknown"
    wanted = payload.get("bant") or {}
    return "applied" if all(lead.bant.get(k) == v for k, v in wanted.items()) else "unknown"


# ---------------------------------------------------------------- the store


class Store:
    """The local database. Use one instance per thread (UI, sync worker) on the same
    file; an instance is also safe to share, one call at a time (a lock guards it)."""

    SORTS = tuple(_ORDER)

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        # The seqs a pull's last_seq may drop (see apply_pull): those numbered before this
        # instance was opened, and those it handed out itself.
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        self._opened_at_seq = int(row[0]) if row and row[0] else 1
        self._handed: set[int] = set()

    # ------------------------------------------------------------ open / close

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open the store at `path`, creating directories, file and schema, migrating forward.

        The directory is made 0700 and the file 0600 (and SQLite's -wal and -shm with it),
        whatever the umask; looser ones are taken back to that: they hold leads, phone
        numbers and notes. Raises StoreError, changing nothing, for a file that is not a
        triage store.
        """
        path = Path(path).expanduser()
        try:
            ensure_private_dir(path.parent)
        except OSError as exc:
            raise StoreError(
                f"{path.parent}: cannot create the directory: {exc.strerror}"
            ) from None
        _inspect(path)
        try:
            ensure_private_db_file(path)
        except OSError as exc:
            raise StoreError(f"{path}: cannot make the database private: {exc.strerror}") from None
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA cache_size = {-_CACHE_KIB}")
            conn.execute("PRAGMA journal_size_limit = 67108864")  # a bulk action's WAL shrinks back
            cls._migrate(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path}: cannot prepare the database: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return cls(path, conn)

    @staticmethod
    def _migrate(conn: sqlite3.Connection, path: Path) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # read again under the write lock: another process may have migrated meanwhile
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path}: made by a newer triage; upgrade triage")
            for migrate in _MIGRATIONS[version:]:
                migrate(conn)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot start a write: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: database error: {exc}") from exc
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for a few reads (a deferred transaction)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: database error: {exc}") from exc

    # ------------------------------------------------------------ meta and sync state

    @staticmethod
    def _meta(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, None if value is None else str(value)),
        )

    def _actor(self, conn: sqlite3.Connection) -> str | None:
        me = self._meta(conn, "me")
        return json.loads(me)["email"] if me else None

    def client_id(self) -> str:
        with self._read() as conn:
            value = self._meta(conn, "client_id")
        assert value is not None
        return value

    def sync_state(self) -> SyncState:
        with self._read() as conn:
            m = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        last_sync = m.get("last_sync")
        return SyncState(
            cursor=int(m.get("cursor") or 0),
            last_seq=int(m.get("last_seq") or 0),
            last_sync=domain.parse_time(last_sync) if last_sync else None,
            last_error=m.get("last_error"),
            policy_version=int(m.get("policy_version") or 0),
            cursor_digest=m.get("cursor_digest"),
            acked_seq=int(m.get("acked_seq") or 0),
            healing=bool(m.get("healing")),
            server_id=m.get("server_id"),
            epoch=int(m["epoch"]) if m.get("epoch") else None,
        )

    def set_me(self, email: str, name: str, role: str) -> None:
        with self._write() as conn:
            self._set_meta(conn, "me", _dumps({"email": email, "name": name, "role": role}))

    def me(self) -> dict[str, str] | None:
        with self._read() as conn:
            value = self._meta(conn, "me")
        return None if value is None else json.loads(value)

    def policy(self) -> domain.Policy:
        """The cached policy; domain.DEFAULT_POLICY until the server's has been saved."""
        with self._read() as conn:
            return self._policy(conn)

    def _policy(self, conn: sqlite3.Connection) -> domain.Policy:
        value = self._meta(conn, "policy")
        if value is None:
            return domain.DEFAULT_POLICY
        try:
            return domain.Policy.from_dict(json.loads(value))
        except (ValueError, domain.PolicyError):
            return domain.DEFAULT_POLICY

    def save_policy(self, policy: domain.Policy) -> None:
        with self._write() as conn:
            self._set_meta(conn, "policy", _dumps(policy.to_dict()))
            self._set_meta(conn, "policy_version", policy.version)

    def record_sync(self, *, ok: bool, error: str | None, at: datetime) -> None:
        """After a sync attempt: success sets last_sync and clears last_error; failure
        records the error and keeps last_sync."""
        with self._write() as conn:
            if ok:
                self._set_meta(conn, "last_sync", domain.format_time(at))
                self._set_meta(conn, "last_error", None)
            else:
                self._set_meta(conn, "last_error", error or "sync failed")

    def has_unnumbered(self) -> bool:
        """Are there outbox rows that pending() has not numbered yet?"""
        with self._read() as conn:
            return bool(
                conn.execute("SELECT EXISTS (SELECT 1 FROM outbox WHERE seq IS NULL)").fetchone()[0]
            )

    def note_server_last_seq(self, last_seq: int) -> None:
        """Record the server's last processed seq for this client, before numbering new rows."""
        with self._write() as conn:
            self._note_last_seq(conn, last_seq)

    def _note_last_seq(self, conn: sqlite3.Connection, last_seq: int) -> None:
        self._set_meta(conn, "last_seq", last_seq)
        if last_seq > int(self._meta(conn, "acked_seq") or 0):
            self._set_meta(conn, "acked_seq", last_seq)
        # The server has processed more than this file ever handed out (the file was
        # restored from a backup): number new mutations after it, or they would be
        # taken for duplicates and never applied.
        if last_seq >= int(self._meta(conn, "next_seq") or 1):
            self._set_meta(conn, "next_seq", last_seq + 1)

    # ------------------------------------------------------------ the view

    @staticmethod
    def _outbox_rows(
        conn: sqlite3.Connection, lead_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, dict[str, Any], str | None]]]:
        rows: dict[str, list[tuple[str, dict[str, Any], str | None]]] = {}
        for lead_id, kind, payload, actor in conn.execute(
            f"SELECT lead_id, type, payload, actor FROM outbox "
            f"WHERE lead_id IN ({_marks(len(lead_ids))}) ORDER BY id",
            lead_ids,
        ):
            rows.setdefault(lead_id, []).append((kind, json.loads(payload), actor))
        return rows

    def _recompute(self, conn: sqlite3.Connection, lead_ids: Iterable[str]) -> None:
        """Refresh the queue's view columns of `lead_ids`: server state + outbox replayed."""
        ids = list(dict.fromkeys(lead_ids))
        for chunk in _chunks(ids):
            servers = conn.execute(
                f"SELECT id, json FROM lead_server WHERE id IN ({_marks(len(chunk))})", chunk
            ).fetchall()
            rows = self._outbox_rows(conn, chunk)
            updates = []
            for lead_id, server_json in servers:
                status, bant, _ = _replay(json.loads(server_json), rows.get(lead_id, ()))
                updates.append((*_queue_view(status, bant), lead_id))
            conn.executemany(_SET_VIEW, updates)

    @staticmethod
    def _existing(conn: sqlite3.Connection, lead_ids: Sequence[str]) -> dict[str, tuple]:
        """id -> (status, version, name, *bant answers) for the ids in the store."""
        found: dict[str, tuple] = {}
        for chunk in _chunks(lead_ids):
            for row in conn.execute(
                f"SELECT id, status, version, name, {_BANT_SQL} FROM leads "
                f"WHERE id IN ({_marks(len(chunk))})",
                chunk,
            ):
                found[row[0]] = row[1:]
        return found

    def _put_server_leads(
        self, conn: sqlite3.Connection, leads: Sequence[domain.Lead], *, force: bool = False
    ) -> list[str]:
        """Write server states, their view = the server state (callers recompute the
        leads with outbox rows). Returns the ids written.

        A version older than or equal to the one stored is ignored (a push answer can be
        newer than a pull page), unless `force` (after a reset the server may have gone back).
        """
        latest: dict[str, domain.Lead] = {}
        # Whatever a server sends, no text with a control character reaches the store,
        # so no screen or table of ours can write an escape sequence to the terminal.
        leads = [domain.clean_lead(lead) for lead in leads]
        for lead in leads:  # the same lead twice in a page: the newer
            if lead.id not in latest or lead.version >= latest[lead.id].version:
                latest[lead.id] = lead
        if not force:
            for chunk in _chunks(list(latest)):
                for lead_id, version in conn.execute(
                    f"SELECT id, version FROM leads WHERE id IN ({_marks(len(chunk))})", chunk
                ):
                    # The same version is the same content (the server bumps it on every
                    # change): a pull that brings back what a push answer already gave us
                    # writes nothing.
                    if latest[lead_id].version <= version:
                        del latest[lead_id]
        rows = [_lead_row(lead) for lead in latest.values()]
        conn.executemany(_UPSERT_LEAD, [r[0] for r in rows])
        conn.executemany(_UPSERT_SERVER, [r[1] for r in rows])
        return list(latest)

    def _ids_with_outbox(self, conn: sqlite3.Connection, lead_ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        for chunk in _chunks(lead_ids):
            out.extend(
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT lead_id FROM outbox WHERE lead_id IN ({_marks(len(chunk))})",
                    chunk,
                )
            )
        return out

    @staticmethod
    def _add_conflict(
        conn: sqlite3.Connection,
        *,
        lead_id: str,
        lead_name: str | None,
        seq: int | None,
        status: str,
        error: str | None,
        server_lead: domain.Lead | None,
        kind: str,
        payload: str,
        now: float,
    ) -> None:
        mutation = {"seq": seq, "lead_id": lead_id, "type": kind, **json.loads(payload)}
        server_json = None if server_lead is None else _dumps(_lead_to_dict(server_lead))
        conn.execute(
            "INSERT INTO conflicts (lead_id, lead_name, seq, status, error, server_json, "
            "mutation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (lead_id, lead_name, seq, status, error, server_json, _dumps(mutation), now),
        )

    # ------------------------------------------------------------ pull

    def _revoke(
        self, conn: sqlite3.Connection, revoked: Sequence[str], now: float
    ) -> tuple[int, int]:
        """Leads no longer the rep's leave the store. Their changes never sent become
        not_assigned conflicts; a change already handed out stays until its answer.
        Returns (leads removed, conflicts made)."""
        removed = conflicts = 0
        for chunk in _chunks(list(dict.fromkeys(revoked))):
            marks = _marks(len(chunk))
            names = dict(conn.execute(f"SELECT id, name FROM leads WHERE id IN ({marks})", chunk))
            # An undo waiting for its decision's answer is no card of its own: the
            # decision's answer (not_assigned) says it all.
            conn.execute(
                f"DELETE FROM outbox WHERE lead_id IN ({marks}) AND seq IS NULL "
                "AND compensates IS NOT NULL",
                chunk,
            )
            unsent = conn.execute(
                f"SELECT id, lead_id, type, payload, action_id FROM outbox "
                f"WHERE lead_id IN ({marks}) AND seq IS NULL ORDER BY id",
                chunk,
            ).fetchall()
            for _row_id, lead_id, kind, payload, _action_id in unsent:
                self._add_conflict(
                    conn, lead_id=lead_id, lead_name=names.get(lead_id), seq=None,
                    status="conflict", error="not_assigned", server_lead=None,
                    kind=kind, payload=payload, now=now,
                )  # fmt: skip
            conflicts += len(unsent)
            conn.executemany(
                "UPDATE action_leads SET result = 'revoked' WHERE action_id = ? AND lead_id = ?",
                [(r[4], r[1]) for r in unsent],
            )
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in unsent])
            removed += conn.execute(f"DELETE FROM leads WHERE id IN ({marks})", chunk).rowcount
            conn.execute(f"DELETE FROM lead_server WHERE id IN ({marks})", chunk)
        return removed, conflicts

    def apply_pull(
        self,
        leads: list[domain.Lead],
        revoked: list[str],
        cursor: int,
        *,
        reset: bool = False,
        last_seq: int | None = None,
        digest: str | None = None,
    ) -> PullApplied:
        """Apply one pulled page and save its cursor (and the server's digest of the change
        at it, to present next time), in one transaction.

        Pulled leads become the server state; their view is recomputed with their
        pending mutations on top, so a pull never undoes what the rep just did.
        `reset`: the server could not serve our cursor; server state of leads without
        pending mutations is dropped first (the outbox is kept).
        `revoked`: those leads leave the store; their mutations never sent become
        conflicts (not_assigned). One already handed out for pushing stays in the
        outbox until the server answers it: dropping it would leave a hole in the
        seqs, and every later mutation would be answered out_of_order.
        `last_seq` (the server's last processed seq for this client): outbox rows up
        to it were processed and their answer lost; they are dropped. Pass it with
        the last page of a pull, when the changes it covers have all been pulled.
        Only rows numbered before this instance was opened, or handed out by it, are
        dropped: a row another connection to the file (a second sync) has numbered
        since may be in flight, its answer (a conflict, perhaps) about to be recorded
        there; it stays until that answer, or the next push's duplicate, settles it.
        """
        now = time.time()
        with self._write() as conn:
            dropped = 0
            if reset:
                dropped = conn.execute(
                    "DELETE FROM leads WHERE NOT EXISTS "
                    "(SELECT 1 FROM outbox WHERE outbox.lead_id = leads.id)"
                ).rowcount
                conn.execute(
                    "DELETE FROM lead_server WHERE NOT EXISTS "
                    "(SELECT 1 FROM leads WHERE leads.id = lead_server.id)"
                )

            removed, conflicts = self._revoke(conn, revoked, now)

            written = self._put_server_leads(conn, leads, force=reset)
            self._recompute(conn, self._ids_with_outbox(conn, written))

            processed = 0
            if last_seq is not None:
                done = conn.execute(
                    "SELECT o.id, o.lead_id, o.seq, o.type, o.payload, o.action_id, "
                    "l.id IS NOT NULL FROM outbox o LEFT JOIN leads l ON l.id = o.lead_id "
                    "WHERE o.seq IS NOT NULL AND o.seq <= ? ORDER BY o.id",
                    (last_seq,),
                ).fetchall()
                done = [r for r in done if r[2] < self._opened_at_seq or r[2] in self._handed]
                for _row_id, lead_id, seq, kind, payload, _action, present in done:
                    if not present:  # its lead was revoked while it was unanswered
                        self._add_conflict(
                            conn, lead_id=lead_id, lead_name=None, seq=seq, status="conflict",
                            error="not_assigned", server_lead=None, kind=kind, payload=payload,
                            now=now,
                        )  # fmt: skip
                        conflicts += 1
                conn.executemany(
                    "UPDATE action_leads SET result = CASE WHEN ? THEN 'processed' "
                    "ELSE 'revoked' END WHERE action_id = ? AND lead_id = ?",
                    [(r[6], r[5], r[1]) for r in done],
                )
                conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in done])
                processed = len(done)
                self._recompute(conn, [r[1] for r in done if r[6]])
                self._note_last_seq(conn, last_seq)

            self._set_meta(conn, "cursor", cursor)
            self._set_meta(conn, "cursor_digest", digest)
        return PullApplied(len(written), removed, conflicts, processed, dropped)

    # ------------------------------------------------------------ push

    def pending(self, limit: int = 500) -> list[OutboxItem]:
        """The next outbox rows to push, in seq order. A row handed out for the first
        time gets its seq now (the next number, no gaps); a row already handed out
        keeps its seq and comes back until the server answers it. An undo's compensation
        is not handed out before the row it compensates is answered."""
        # A compensation whose row is still unanswered waits, and so does everything after
        # it on the same lead (a decision made again after the undo must follow the undo).
        select = (
            "SELECT id, seq, lead_id, type, payload FROM outbox o WHERE o.seq IS NOT NULL "
            "OR NOT EXISTS (SELECT 1 FROM outbox c JOIN outbox t ON t.id = c.compensates "
            "WHERE c.lead_id = o.lead_id AND c.id <= o.id AND c.seq IS NULL) "
            # rows in flight first, by their numbers; then new ones in the order made (a
            # compensation that waited is numbered after rows made later on other leads)
            "ORDER BY o.seq IS NULL, o.seq, o.id LIMIT ?"
        )
        with self._lock:
            with self._read() as conn:
                rows = conn.execute(select, (limit,)).fetchall()
            if any(r[1] is None for r in rows):
                with self._write() as conn:
                    rows = conn.execute(select, (limit,)).fetchall()
                    next_seq = int(self._meta(conn, "next_seq") or 1)
                    assigned = []
                    for i, (row_id, seq, lead_id, kind, payload) in enumerate(rows):
                        if seq is None:
                            assigned.append((next_seq, row_id))
                            rows[i] = (row_id, next_seq, lead_id, kind, payload)
                            next_seq += 1
                    conn.executemany("UPDATE outbox SET seq = ? WHERE id = ?", assigned)
                    self._set_meta(conn, "next_seq", next_seq)
                    self._remember_decision_ids(conn, [r for r in rows if r[3] == "decide"])
            self._handed.update(r[1] for r in rows)
        return [OutboxItem(r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def _remember_decision_ids(self, conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
        """A decision's identity is the client id and seq of its first sending (or the
        `origin` it carries when sent again): the journal keeps it, for an undo to name
        the decision it undoes and for a heal to send it again as the same decision."""
        client_id = self._meta(conn, "client_id")
        updates = []
        for row_id, seq, lead_id, _kind, payload in rows:
            origin = json.loads(payload).get("origin")
            decision_id = (
                f"{origin['client_id']}:{origin['seq']}" if origin else f"{client_id}:{seq}"
            )
            updates.append((decision_id, row_id, lead_id))
        conn.executemany(
            "UPDATE action_leads SET decision_id = ? WHERE decision_id IS NULL AND lead_id = ? "
            "AND action_id = (SELECT action_id FROM outbox WHERE id = ?)",
            [(d, lead_id, row_id) for d, row_id, lead_id in updates],
        )

    def pending_count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def pending_counts(self) -> PendingCounts:
        """The outbox by kind: decisions (decide, reopen) and BANT answers."""
        with self._read() as conn:
            by_type = dict(conn.execute("SELECT type, count(*) FROM outbox GROUP BY type"))
        return PendingCounts(
            decisions=by_type.get("decide", 0) + by_type.get("reopen", 0),
            answers=by_type.get("bant", 0),
        )

    def apply_push_results(
        self, results: Sequence[PushResult], *, last_seq: int | None = None
    ) -> None:
        """Apply the server's answers to a push, in one transaction.

        applied: the row goes; the lead sent back becomes the server state.
        duplicate: as what was stored the first time (applied, conflict or invalid).
        conflict / invalid: the row goes and becomes a conflicts row (with the
        server's lead if sent); the view shows the server's state again.
        out_of_order (or anything else): the row stays, to be pushed again.
        """
        now = time.time()
        with self._write() as conn:
            touched: list[str] = []
            rows: dict[int, tuple] = {}  # seq -> outbox row and the lead's name (None: gone)
            for chunk in _chunks([r.seq for r in results]):
                for row in conn.execute(
                    "SELECT o.seq, o.id, o.lead_id, o.type, o.payload, o.action_id, l.name "
                    "FROM outbox o LEFT JOIN leads l ON l.id = o.lead_id "
                    f"WHERE o.seq IN ({_marks(len(chunk))})",
                    chunk,
                ):
                    rows[row[0]] = row[1:]
            server_states: list[domain.Lead] = []  # written once, before the recompute
            answered_before: list[domain.Lead] = []
            deleted: list[tuple[int]] = []
            refused: list[tuple[int]] = []
            results_by_action: list[tuple[str, str, str]] = []
            actor = self._actor(conn)
            for result in results:
                status, error = result.status, result.error
                if status == "duplicate":
                    status = result.stored or _what_it_did(rows.get(result.seq), result.lead, actor)
                    if status == "unknown":  # a server that does not say: the rep looks
                        status, error = "conflict", "unknown_outcome"
                if status not in ("applied", "conflict", "invalid"):
                    continue
                lead = result.lead
                row = rows.pop(result.seq, None)
                if row is None:  # answered before: only keep the newer server state
                    if lead is not None:
                        answered_before.append(lead)
                    continue
                row_id, lead_id, kind, payload, action_id, name = row
                present = name is not None
                if lead is not None and lead.id == lead_id and present:
                    server_states.append(lead)
                deleted.append((row_id,))
                results_by_action.append((status, action_id, lead_id))
                if status != "applied":
                    refused.append((row_id,))
                    self._add_conflict(
                        conn, lead_id=lead_id, lead_name=name or (lead.name if lead else None),
                        seq=result.seq, status=status, error=error, server_lead=lead,
                        kind=kind, payload=payload, now=now,
                    )  # fmt: skip
                if present:
                    touched.append(lead_id)
            if answered_before:
                known = self._existing(conn, [lead.id for lead in answered_before])
                server_states += [lead for lead in answered_before if lead.id in known]
                touched += [lead.id for lead in answered_before if lead.id in known]
            self._put_server_leads(conn, server_states)
            # An undo of a refused mutation undoes nothing: its compensation goes too.
            conn.executemany("DELETE FROM outbox WHERE compensates = ?", refused)
            conn.executemany("DELETE FROM outbox WHERE id = ?", deleted)
            conn.executemany(
                "UPDATE action_leads SET result = ? WHERE action_id = ? AND lead_id = ?",
                results_by_action,
            )
            self._recompute(conn, touched)
            if last_seq is not None:
                self._note_last_seq(conn, last_seq)

    # ------------------------------------------------------------ the server's identity

    def remember_server(self, server_id: str | None, epoch: int | None) -> None:
        """The server this queue belongs to, and the epoch of its history as seen now."""
        with self._write() as conn:
            if server_id is not None and self._meta(conn, "server_id") is None:
                self._set_meta(conn, "server_id", server_id)
            if epoch is not None:
                self._set_meta(conn, "epoch", epoch)

    # ------------------------------------------------------------ healing a restore
    #
    # When the server's history went back (restored from a backup), the rep's queue no
    # longer matches it: changes it pulled are gone, and so may be decisions it made. The
    # sync engine then heals, in steps that each commit, and resumes after a crash:
    # start_heal() (cursor back to 0, `healing` set) -> a full pull (reset) ->
    # renumber_unanswered(last_seq) -> lookup of heal_candidates() -> apply_heal() ->
    # finish_heal(). The outbox is kept throughout.

    def start_heal(self) -> None:
        with self._write() as conn:
            self._set_meta(conn, "healing", "1")
            self._set_meta(conn, "cursor", 0)
            self._set_meta(conn, "cursor_digest", None)

    def finish_heal(self, epoch: int | None) -> None:
        with self._write() as conn:
            self._set_meta(conn, "healing", None)
            if epoch is not None:
                self._set_meta(conn, "epoch", epoch)

    def renumber_unanswered(self, last_seq: int) -> int:
        """Number the outbox rows the server has not processed from its `last_seq` + 1 on,
        in the order they were numbered: a restored server knows fewer of this client's
        mutations, and would answer every later number out_of_order. Returns how many."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id FROM outbox WHERE seq > ? ORDER BY seq", (last_seq,)
            ).fetchall()
            # two steps, so that no number is held twice on the way (seq is UNIQUE)
            conn.executemany("UPDATE outbox SET seq = -seq WHERE id = ?", rows)
            conn.executemany(
                "UPDATE outbox SET seq = ? WHERE id = ?",
                [(last_seq + 1 + i, row_id) for i, (row_id,) in enumerate(rows)],
            )
            self._set_meta(conn, "next_seq", last_seq + 1 + len(rows))
            self._set_meta(conn, "last_seq", last_seq)
            self._set_meta(conn, "acked_seq", last_seq)
            self._handed.update(last_seq + 1 + i for i in range(len(rows)))
        return len(rows)

    def heal_candidates(self, since_days: float = 90) -> list[str]:
        """Leads whose server state a heal must know: those with pending changes, and those
        this rep decided (answered) in the last `since_days` days."""
        since = time.time() - since_days * 86400
        with self._read() as conn:
            ids = [r[0] for r in conn.execute("SELECT DISTINCT lead_id FROM outbox")]
            ids += [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT al.lead_id FROM action_leads al "
                    "JOIN actions a ON a.action_id = al.action_id "
                    "WHERE a.kind = 'decide' AND a.created_at >= ? "
                    "AND al.result IN ('applied', 'processed')",
                    (since,),
                )
            ]
        return list(dict.fromkeys(ids))

    def apply_heal(self, found: Sequence[domain.Lead], missing: Sequence[str]) -> Healed:
        """After a full pull from a restored server: its state of `found` (the rep's leads
        it still has, any status) becomes the server state; `missing` ones are no longer
        the rep's (revoked). A decision of this rep the server no longer has is queued
        again as the same decision (its origin), and an undo it lost likewise; each gets a
        card saying what happened. One transaction."""
        now = time.time()
        with self._write() as conn:
            revoked, conflicts = self._revoke(conn, list(missing), now)
            written = self._put_server_leads(conn, list(found), force=True)
            actor = self._actor(conn)
            with_outbox = set(self._ids_with_outbox(conn, [lead.id for lead in found]))
            resent = 0
            for lead in found:
                if lead.id in with_outbox:  # what is pending will be sent anyway
                    continue
                last = conn.execute(
                    "SELECT a.action_id, a.detail, a.undone_at, al.result, al.decision_id "
                    "FROM action_leads al JOIN actions a ON a.action_id = al.action_id "
                    "WHERE al.lead_id = ? AND a.kind = 'decide' ORDER BY a.id DESC LIMIT 1",
                    (lead.id,),
                ).fetchone()
                if last is None or last[3] not in ("applied", "processed"):
                    continue
                action_id, detail_json, undone_at, _result, decision_id = last
                standing = lead.decision
                if undone_at is None:
                    if lead.status is not Status.OPEN:
                        continue  # it stands (this decision, or one made since elsewhere)
                    self._queue_decision_again(conn, action_id, lead, detail_json, decision_id)
                elif (
                    standing is not None
                    and standing.by == actor
                    and (standing.id is None or standing.id == decision_id)
                ):
                    self._queue(
                        conn, action_id, lead.id, "reopen", lead.version, None, now,
                        reopens=decision_id,
                    )  # fmt: skip
                else:
                    continue
                resent += 1
                self._add_conflict(
                    conn, lead_id=lead.id, lead_name=lead.name, seq=None, status="conflict",
                    error="server_restored", server_lead=lead,
                    kind="decide" if undone_at is None else "reopen",
                    payload=_dumps(json.loads(detail_json)), now=now,
                )  # fmt: skip
                conflicts += 1
            self._recompute(conn, written)
        return Healed(resent, revoked, conflicts)

    def _queue_decision_again(
        self,
        conn: sqlite3.Connection,
        action_id: str,
        lead: domain.Lead,
        detail_json: str,
        decision_id: str | None,
    ) -> None:
        detail = json.loads(detail_json)
        payload = {k: detail.get(k) for k in ("outcome", "reason", "note", "nurture_until", "at")}
        payload |= {"bant": None, "base_version": lead.version}
        if decision_id and ":" in decision_id:
            origin_client, origin_seq = decision_id.rsplit(":", 1)
            payload["origin"] = {"client_id": origin_client, "seq": int(origin_seq)}
        conn.execute(
            "INSERT INTO outbox (action_id, lead_id, type, payload, actor, created_at) "
            "VALUES (?, ?, 'decide', ?, ?, ?)",
            (action_id, lead.id, _dumps(payload), self._actor(conn), time.time()),
        )

    # ------------------------------------------------------------ queue

    def _where(
        self, flt: domain.Filter, now: datetime | None, sort: str = "sla"
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of a filter, its parameters bound.

        No filter terms and an indexed sort: the query walks the sort's index and
        stops at the page (under a millisecond). Otherwise the indexed columns are
        written `+col`, so that SQLite uses no index: it scans the compact table once and
        sorts the matches, a bounded cost (about 30 ms at 100k leads) whatever the
        filter. Walking the index instead costs a lookup per skipped row: 200 ms
        and more when the filter matches little.

        Filter semantics: free words must all appear (in name, company, title,
        email or campaign); several source: tokens match any of them, exactly,
        several campaign: tokens any of them, as a substring (both ignore case);
        `age:` counts on the SLA clock (domain.sla_start); a lead without one is age 0.
        """
        clauses: list[str] = []
        params: list[Any] = []
        scan = "+" if self._has_terms(flt) or sort not in _INDEXED_SORTS else ""
        statuses = list(dict.fromkeys(flt.status)) or [Status.OPEN.value]
        if len(statuses) == 1:
            clauses.append(f"{scan}status = ?")
        else:
            clauses.append(f"{scan}status IN ({_marks(len(statuses))})")
        params.extend(statuses)
        for word in flt.text:
            clauses.append("search LIKE ? ESCAPE '\\'")
            params.append(_like(domain.fold(word)))
        if flt.source:
            sources = list(dict.fromkeys(domain.fold(s) for s in flt.source))
            clauses.append(f"source_key IN ({_marks(len(sources))})")
            params.extend(sources)
        if flt.campaign:
            likes = " OR ".join("campaign_key LIKE ? ESCAPE '\\'" for _ in flt.campaign)
            clauses.append(f"({likes})")
            params.extend(_like(domain.fold(c)) for c in flt.campaign)
        if flt.score_lt is not None:
            clauses.append("+score < ?")
            params.append(flt.score_lt)
        if flt.score_gt is not None:
            clauses.append("+score > ?")
            params.append(flt.score_gt)
        for key, answer in flt.bant:
            column = _BANT_COLUMNS.get(key)
            if column is not None:
                clauses.append(f"{column} = ?")
                params.append(answer)
        if flt.age_gt_hours is not None or flt.age_lt_hours is not None:
            t = (now or domain.utcnow()).timestamp()
            if flt.age_gt_hours is not None:
                clauses.append("+sla_at < ?")
                params.append(t - flt.age_gt_hours * 3600)
            if flt.age_lt_hours is not None:
                clauses.append("(sla_at IS NULL OR +sla_at > ?)")
                params.append(t - flt.age_lt_hours * 3600)
        return " AND ".join(clauses), params

    @staticmethod
    def _has_terms(flt: domain.Filter) -> bool:
        return bool(
            flt.text or flt.source or flt.campaign or flt.bant
            or flt.score_lt is not None or flt.score_gt is not None
            or flt.age_gt_hours is not None or flt.age_lt_hours is not None
        )  # fmt: skip

    @staticmethod
    def _order(sort: str) -> str:
        try:
            return _ORDER[sort]
        except KeyError:
            raise ValueError(f"unknown sort {sort!r} (known: {', '.join(_ORDER)})") from None

    def queue_page(
        self,
        flt: domain.Filter,
        sort: str,
        offset: int,
        limit: int,
        now: datetime | None = None,
    ) -> list[QueueRow]:
        """One page of the queue, filtered and sorted in SQL."""
        where, params = self._where(flt, now, sort)
        order = self._order(sort)
        # The page's ids first (from the sort's index, which holds the primary key of
        # this WITHOUT ROWID table), then their columns: OFFSET skips rows without
        # reading them in full.
        sql = (
            f"SELECT {_QUEUE_COLUMNS} FROM leads WHERE id IN "
            f"(SELECT id FROM leads WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?) "
            f"ORDER BY {order}"
        )
        with self._read() as conn:
            rows = conn.execute(sql, (*params, max(0, limit), max(0, offset))).fetchall()
        return [
            QueueRow(
                id=r[0],
                name=r[1],
                title=r[2],
                company=r[3],
                source=r[4],
                campaign=r[5],
                score=r[6],
                mql_at=_from_epoch(r[7]),
                status=r[8],
                bant=(r[9], r[10], r[11], r[12]),
                pending=bool(r[14]),
                sla_at=_from_epoch(r[13]),
            )  # fmt: skip
            for r in rows
        ]

    def queue_count(self, flt: domain.Filter, now: datetime | None = None) -> int:
        where, params = self._where(flt, now)
        with self._read() as conn:
            return conn.execute(f"SELECT count(*) FROM leads WHERE {where}", params).fetchone()[0]

    def queue_ids(self, flt: domain.Filter, sort: str, now: datetime | None = None) -> list[str]:
        """Every id the filter matches, in queue order (for "mark all visible")."""
        where, params = self._where(flt, now, sort)
        sql = f"SELECT id FROM leads WHERE {where} ORDER BY {self._order(sort)}"
        with self._read() as conn:
            return [r[0] for r in conn.execute(sql, params)]

    def resolve_ids(self, refs: Sequence[str]) -> dict[str, str]:
        """{reference: lead id} for the references that name a lead in the store, by its
        id or by its external id (the marketing system's, `HS-2011`); the others are left
        out. A lead's own id wins over another lead's external id. Raises ActionError
        (`ambiguous_id`) for an external id that several leads carry."""
        refs = list(dict.fromkeys(refs))
        found: dict[str, str] = {}
        with self._read() as conn:
            for chunk in _chunks(refs):
                found.update(
                    (r[0], r[0])
                    for r in conn.execute(
                        f"SELECT id FROM leads WHERE id IN ({_marks(len(chunk))})", chunk
                    )
                )
            rest = [r for r in refs if r not in found]
            by_external: dict[str, list[str]] = {}
            for chunk in _chunks(rest):
                for external_id, lead_id in conn.execute(
                    "SELECT external_id, id FROM leads "
                    f"WHERE external_id IN ({_marks(len(chunk))}) ORDER BY id",
                    chunk,
                ):
                    by_external.setdefault(external_id, []).append(lead_id)
        several = {e: ids for e, ids in by_external.items() if len(ids) > 1}
        if several:
            named = [f"{e} ({', '.join(ids)})" for e, ids in several.items()]
            raise ActionError(
                "ambiguous_id",
                f"external id(s) of several leads: {_name_ids(named)}; use the lead id",
            )
        found.update((e, ids[0]) for e, ids in by_external.items())
        return found

    def lead(self, lead_id: str) -> domain.Lead | None:
        """The local view of one lead, in full: its server state with its outbox replayed."""
        with self._read() as conn:
            row = conn.execute("SELECT json FROM lead_server WHERE id = ?", (lead_id,)).fetchone()
            if row is None:
                return None
            rows = self._outbox_rows(conn, [lead_id]).get(lead_id, ())
        server = json.loads(row[0])
        status, bant, decision = _replay(server, rows)
        return replace(
            _lead_from_dict(server),
            status=Status(status),
            bant=bant,
            decision=_decision_from_dict(decision),
        )

    def history(self, lead_id: str) -> list[HistoryEntry]:
        """The lead's local decision history: decisions, undos and conflicts, by time."""
        entries: list[HistoryEntry] = []
        with self._read() as conn:
            for detail_json, undone_at in conn.execute(
                "SELECT a.detail, a.undone_at FROM action_leads al "
                "JOIN actions a ON a.action_id = al.action_id "
                "WHERE al.lead_id = ? AND a.kind = 'decide' ORDER BY a.id",
                (lead_id,),
            ):
                d = json.loads(detail_json)
                entries.append(
                    HistoryEntry(
                        domain.parse_time(d["at"]), "decide", d["outcome"], d["reason"], d["note"]
                    )
                )
                if undone_at is not None:
                    entries.append(
                        HistoryEntry(_utc(undone_at), "undo", d["outcome"], d["reason"], None)
                    )
            for created_at, mutation, error in conn.execute(
                "SELECT created_at, mutation, error FROM conflicts WHERE lead_id = ? ORDER BY id",
                (lead_id,),
            ):
                m = json.loads(mutation)
                entries.append(
                    HistoryEntry(
                        _utc(created_at),
                        "conflict",
                        m.get("outcome"),
                        m.get("reason"),
                        m.get("note"),
                        error,
                    )  # fmt: skip
                )
        entries.sort(key=lambda e: e.at)  # stable: a decision stays before its own undo
        return entries

    # ------------------------------------------------------------ actions

    def decide(
        self,
        lead_ids: Sequence[str],
        outcome: Outcome | str,
        *,
        reason: str | None = None,
        note: str | None = None,
        nurture_until: date | None = None,
        at: datetime | None = None,
    ) -> ActionResult:
        """Decide open leads, one or thousands, in one transaction; one step to undo.

        Checked against the cached policy first; raises ActionError, writing
        nothing, for a bad outcome, reason or note, an unknown lead or a lead that
        is not open.
        """
        ids = list(dict.fromkeys(lead_ids))
        if not ids:
            raise ActionError("no_leads", "no leads to decide")
        try:
            outcome = Outcome(outcome)
        except ValueError:
            raise ActionError(
                "bad_outcome", f"unknown outcome {outcome!r} (use accept, reject or nurture)"
            ) from None
        reason = reason or None
        note = (note or "").strip() or None
        if note is not None and len(note) > MAX_NOTE:
            raise ActionError("note_too_long", f"the note is longer than {MAX_NOTE} characters")
        control = None if note is None else domain.control_problem(note, multiline=True)
        if control is not None:
            raise ActionError("bad_value", f"the note {control}")
        if nurture_until is not None and outcome is not Outcome.NURTURE:
            raise ActionError("bad_value", "a re-entry date (nurture_until) goes with nurture only")
        at = domain.utcnow() if at is None else domain.parse_time(at)
        detail = {
            "outcome": outcome.value,
            "reason": reason,
            "note": note,
            "at": domain.format_time(at),
            "nurture_until": nurture_until.isoformat() if nurture_until else None,
        }
        now = time.time()
        action_id = str(uuid.uuid4())
        with self._write() as conn:
            self._check_decision(self._policy(conn), outcome, reason, note)
            found = self._existing(conn, ids)
            missing = [i for i in ids if i not in found]
            if missing:
                raise ActionError("unknown_lead", f"unknown lead id(s): {_name_ids(missing)}")
            decided = [f"{i} ({found[i][0]})" for i in ids if found[i][0] != Status.OPEN.value]
            if decided:
                raise ActionError("not_open", f"already decided: {_name_ids(decided)}")
            actor = self._actor(conn)
            ordered = sorted(ids)  # index order: each B-tree is written front to back
            conn.execute(
                "INSERT INTO actions (action_id, kind, detail, count, created_at) "
                "VALUES (?, 'decide', ?, ?, ?)",
                (action_id, _dumps(detail), len(ids), now),
            )
            conn.executemany(
                "INSERT INTO action_leads (action_id, lead_id) VALUES (?, ?)",
                [(action_id, i) for i in ordered],
            )
            payload = {k: detail[k] for k in ("outcome", "reason", "note")}
            payload |= {"bant": None, "nurture_until": detail["nurture_until"], "at": detail["at"]}
            conn.executemany(
                "INSERT INTO outbox (action_id, lead_id, type, payload, actor, created_at) "
                "VALUES (?, ?, 'decide', ?, ?, ?)",
                [
                    (action_id, i, _dumps({**payload, "base_version": found[i][1]}), actor, now)
                    for i in ordered
                ],
            )
            # The view directly: a decide replayed last sets the status, nothing else
            # the queue shows.
            conn.executemany(
                "UPDATE leads SET status = ? WHERE id = ?",
                [(outcome.status.value, i) for i in ordered],
            )
        return ActionResult(action_id, len(ids), tuple(ids))

    @staticmethod
    def _check_decision(
        policy: domain.Policy, outcome: Outcome, reason: str | None, note: str | None
    ) -> None:
        error = policy.check_decision(outcome, reason, note)
        if error is None:
            return
        known = ", ".join(r.code for r in policy.reasons_for(outcome))
        if error == "reason_required":
            message = f"{outcome.value} needs a reason (one of: {known})"
        elif error == "unknown_reason" and outcome is Outcome.ACCEPT:
            message = "accept takes no reason"
        elif error == "unknown_reason":
            message = f"unknown reason {reason!r} for {outcome.value} (known: {known})"
        elif error == "note_required":
            message = f"reason {reason!r} needs a note saying why"
        else:
            message = f"this decision is not valid ({error})"
        raise ActionError(error, message)

    def set_bant(self, lead_id: str, key: str, answer: str) -> ActionResult:
        """Record the rep's answer to one BANT criterion: one outbox mutation, undoable."""
        with self._write() as conn:
            policy = self._policy(conn)
            error = policy.check_bant({key: answer})
            if error == "unknown_bant_key":
                known = ", ".join(policy.bant_keys)
                raise ActionError(error, f"unknown BANT criterion {key!r} (known: {known})")
            if error:
                raise ActionError(error, f"a BANT answer is yes, no or unknown, not {answer!r}")
            found = self._existing(conn, [lead_id])
            if not found:
                raise ActionError("unknown_lead", f"unknown lead id(s): {lead_id}")
            _status, version, _name, *answers = found[lead_id]
            prior = answers[BANT_KEYS.index(key)]
            action_id = str(uuid.uuid4())
            now = time.time()
            conn.execute(
                "INSERT INTO actions (action_id, kind, detail, count, created_at) "
                "VALUES (?, 'bant', ?, 1, ?)",
                (action_id, _dumps({"key": key, "answer": answer}), now),
            )
            conn.execute(
                "INSERT INTO action_leads (action_id, lead_id, prior) VALUES (?, ?, ?)",
                (action_id, lead_id, prior),
            )
            self._queue(conn, action_id, lead_id, "bant", version, {key: answer}, now)
            self._recompute(conn, [lead_id])
        return ActionResult(action_id, 1, (lead_id,))

    def cycle_bant(self, lead_id: str, key: str) -> Answer:
        """Move one BANT answer along unknown -> yes -> no -> unknown; returns the new one."""
        if key not in BANT_KEYS:
            raise ActionError("unknown_bant_key", f"unknown BANT criterion {key!r}")
        with self._lock:
            with self._read() as conn:
                found = self._existing(conn, [lead_id])
            if not found:
                raise ActionError("unknown_lead", f"unknown lead id(s): {lead_id}")
            answer = domain.next_answer(found[lead_id][3 + BANT_KEYS.index(key)])
            self.set_bant(lead_id, key, answer.value)
        return answer

    def _queue(
        self,
        conn: sqlite3.Connection,
        action_id: str,
        lead_id: str,
        kind: str,
        base_version: int,
        bant: dict[str, str] | None,
        now: float,
        compensates: int | None = None,
        *,
        reopens: str | None = None,
    ) -> None:
        """Append one bant or reopen mutation to the outbox. `compensates`: the outbox row
        (still unanswered) that this one undoes; it waits for that row's answer.
        `reopens`: the identity of the decision a reopen undoes (servers with "origin"
        undo no other)."""
        payload = {
            "outcome": None, "reason": None, "note": None, "bant": bant, "nurture_until": None,
            "at": domain.format_time(_utc(now)), "base_version": base_version,
        }  # fmt: skip
        if reopens is not None:
            payload["reopens"] = reopens
        conn.execute(
            "INSERT INTO outbox (action_id, lead_id, type, payload, actor, created_at, "
            "compensates) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (action_id, lead_id, kind, _dumps(payload), self._actor(conn), now, compensates),
        )

    def undo(self) -> UndoResult | None:
        """Undo the most recent action not undone yet; None when there is none.

        Its outbox rows never handed out for pushing are deleted. Where the action
        may have reached the server (a row handed out, or answered applied), a
        compensating mutation is queued if the view still differs from before:
        `reopen` for a decision, a `bant` mutation restoring the previous answer.
        Leads since revoked, and mutations the server refused, need nothing.
        """
        now = time.time()
        with self._write() as conn:
            act = conn.execute(
                "SELECT action_id, kind, detail FROM actions WHERE undone_at IS NULL "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if act is None:
                return None
            action_id, kind, detail_json = act
            detail = json.loads(detail_json)
            members = conn.execute(
                "SELECT lead_id, prior, result FROM action_leads WHERE action_id = ? "
                "ORDER BY lead_id",
                (action_id,),
            ).fetchall()
            decision_ids = dict(
                conn.execute(
                    "SELECT lead_id, decision_id FROM action_leads WHERE action_id = ? "
                    "AND decision_id IS NOT NULL",
                    (action_id,),
                ).fetchall()
            )
            conn.execute("DELETE FROM outbox WHERE action_id = ? AND seq IS NULL", (action_id,))
            # Rows of the action already handed out may be in flight: a compensation waits
            # for their answer (and is dropped with them if the server refuses them).
            in_flight = dict(
                conn.execute(
                    "SELECT lead_id, id FROM outbox WHERE action_id = ? AND seq IS NOT NULL",
                    (action_id,),
                ).fetchall()
            )
            ids = [m[0] for m in members]
            self._recompute(conn, ids)
            present = self._existing(conn, ids)
            compensation = str(uuid.uuid4())
            queued = 0
            for lead_id, prior, result in members:
                if lead_id not in present or result in _REFUSED:
                    continue
                status, version, _name, *answers = present[lead_id]
                target = in_flight.get(lead_id)
                if kind == "decide":
                    if status != Status.OPEN.value:
                        self._queue(
                            conn, compensation, lead_id, "reopen", version, None, now, target,
                            reopens=decision_ids.get(lead_id),
                        )  # fmt: skip
                        queued += 1
                elif answers[BANT_KEYS.index(detail["key"])] != prior:
                    restore = {detail["key"]: prior}
                    self._queue(conn, compensation, lead_id, "bant", version, restore, now, target)
                    queued += 1
            if queued:
                self._recompute(conn, ids)
            conn.execute("UPDATE actions SET undone_at = ? WHERE action_id = ?", (now, action_id))
        return UndoResult(action_id, kind, len(present), queued > 0)

    # ------------------------------------------------------------ status and conflicts

    def status(self, now: datetime | None = None) -> StoreStatus:
        """Counts for the status bar. `decided_today`: since local midnight, not undone."""
        local = (now or domain.utcnow()).astimezone()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        with self._read() as conn:
            pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            conflicts = conn.execute(
                "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL"
            ).fetchone()[0]
            open_ = conn.execute("SELECT count(*) FROM leads WHERE status = 'open'").fetchone()[0]
            decided = conn.execute(
                "SELECT coalesce(sum(count), 0) FROM actions "
                "WHERE created_at >= ? AND kind = 'decide' AND undone_at IS NULL",
                (midnight,),
            ).fetchone()[0]
            last_sync = self._meta(conn, "last_sync")
            last_error = self._meta(conn, "last_error")
        return StoreStatus(
            pending=pending,
            conflicts=conflicts,
            open=open_,
            decided_today=decided,
            last_sync=domain.parse_time(last_sync) if last_sync else None,
            last_error=last_error,
        )

    def conflicts(self) -> list[ConflictEntry]:
        """Unresolved conflicts, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, lead_id, lead_name, seq, status, error, server_json, mutation, "
                "created_at FROM conflicts WHERE resolved_at IS NULL ORDER BY id"
            ).fetchall()
        return [
            ConflictEntry(
                id=r[0],
                lead_id=r[1],
                lead_name=r[2],
                seq=r[3],
                status=r[4],
                error=r[5],
                server_lead=_lead_from_dict(json.loads(r[6])) if r[6] else None,
                mutation=json.loads(r[7]),
                created_at=_utc(r[8]),
            )  # fmt: skip
            for r in rows
        ]

    def resolve_conflict(self, conflict_id: int) -> None:
        """Mark a conflict as seen by the rep (it leaves conflicts())."""
        with self._write() as conn:
            row = conn.execute("SELECT 1 FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
            if row is None:
                raise ActionError("unknown_conflict", f"no conflict #{conflict_id}")
            conn.execute(
                "UPDATE conflicts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
                (time.time(), conflict_id),
            )

    def data_version(self) -> int:
        """SQLite's PRAGMA data_version on this instance's connection: it changes when
        another connection (another process, or another Store on the same file) commits,
        not for this instance's own commits. A few microseconds: cheap to poll."""
        with self._lock:
            try:
                return int(self._connection().execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: database error: {exc}") from exc

    def integrity_check(self) -> str:
        """PRAGMA integrity_check: "ok" when the file is sound."""
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(r[0] for r in rows)
