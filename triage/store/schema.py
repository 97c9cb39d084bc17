"""The store's schema and its forward migrations; a file that is not ours is refused."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path

from triage import domain
from triage.domain.codec import suggestion_from_dict
from triage.store.common import (
    _BANT_COLUMNS,
    _CHUNK,
    _NO_ACCOUNT,
    _NO_TIME,
)
from triage.store.records import (
    StoreError,
)
from triage.store.rows import (
    _attributes_key,
    _email_key,
    _key,
    _suggestion_key,
)

APP_ID = "triage"


# The schema of version 1, statement by statement ({bant_cols}: a column per BANT key).
_SCHEMA_1 = (
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID""",
    """CREATE TABLE leads (          -- the queue's projection of each lead
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
) WITHOUT ROWID""",
    """CREATE TABLE lead_server (     -- the server state of each lead, in full
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  json TEXT NOT NULL
)""",
    """CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  seq INTEGER UNIQUE,             -- protocol seq, NULL until handed out by pending()
  action_id TEXT NOT NULL,
  lead_id TEXT NOT NULL,          -- no foreign key: a sent row outlives a revoked lead
  type TEXT NOT NULL CHECK (type IN ('decide', 'bant', 'reopen')),
  payload TEXT NOT NULL,          -- JSON: the protocol fields but seq, lead_id, type
  actor TEXT,                     -- the rep's email: the view's decision.by
  created_at REAL NOT NULL
)""",
    """CREATE INDEX outbox_lead ON outbox(lead_id)""",
    """CREATE INDEX outbox_action ON outbox(action_id)""",
    """CREATE TABLE actions (         -- the undo journal
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  action_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('decide', 'bant')),
  detail TEXT NOT NULL,           -- JSON: decide: outcome, reason, note, at; bant: key, answer
  count INTEGER NOT NULL,
  created_at REAL NOT NULL,
  undone_at REAL
)""",
    """CREATE INDEX actions_created ON actions(created_at)""",
    """CREATE TABLE action_leads (
  action_id TEXT NOT NULL REFERENCES actions(action_id),
  lead_id TEXT NOT NULL,
  prior TEXT,                     -- bant: the answer before
  result TEXT,                    -- applied | conflict | invalid | revoked | processed
  PRIMARY KEY (action_id, lead_id)
) WITHOUT ROWID""",
    """CREATE INDEX action_leads_lead ON action_leads(lead_id)""",
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
)""",
    """CREATE INDEX conflicts_lead ON conflicts(lead_id)""",
)


def _migration_1(conn: sqlite3.Connection) -> None:
    """The initial schema."""
    bant_cols = "\n".join(f"  {c} TEXT NOT NULL DEFAULT 'unknown'," for c in _BANT_COLUMNS.values())
    for statement in _SCHEMA_1:
        conn.execute(statement.replace("{bant_cols}", bant_cols))
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


def _migration_8(conn: sqlite3.Connection) -> None:
    """Imports from marketing's systems: a lead may have no score (NULL, never 0, so that
    `score:<20` leaves it out), and its attributes, folded, for `attr:KEY=VALUE` filters.

    SQLite cannot drop a NOT NULL in place: the table is made again (its own definition
    but that), filled, and put in place, with its indexes; nothing points at it."""
    sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'leads'"
    ).fetchone()[0]
    indexes = [
        r[0]
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads' "
            "AND sql IS NOT NULL"
        )
    ]
    table = sql.replace("score INTEGER NOT NULL", "score INTEGER", 1)
    # (a table renamed before is recorded as CREATE TABLE "leads")
    conn.execute(re.sub(r'^CREATE TABLE\s+"?leads"?', "CREATE TABLE leads_new", table, count=1))
    conn.execute("INSERT INTO leads_new SELECT * FROM leads")
    conn.execute("DROP TABLE leads")
    conn.execute("ALTER TABLE leads_new RENAME TO leads")
    for index in indexes:
        conn.execute(index)
    conn.execute("ALTER TABLE leads ADD COLUMN attributes_key TEXT")  # JSON: {key: folded}
    rows = conn.execute("SELECT id, json FROM lead_server")
    while batch := rows.fetchmany(_CHUNK):
        updates = []
        for lead_id, text in batch:
            attributes = json.loads(text).get("attributes")
            if attributes:
                updates.append((_attributes_key(attributes), lead_id))
        conn.executemany("UPDATE leads SET attributes_key = ? WHERE id = ?", updates)


def _migration_9(conn: sqlite3.Connection) -> None:
    """Each lead's account (domain.account_key: its email's domain, else its company),
    indexed: the lead screen counts the other leads of its account, `account:` filters."""
    conn.execute("ALTER TABLE leads ADD COLUMN account_key TEXT")
    rows = conn.execute("SELECT id, json FROM lead_server")
    while batch := rows.fetchmany(_CHUNK):
        updates = []
        for lead_id, text in batch:
            d = json.loads(text)
            updates.append((domain.account_key(d.get("email"), d.get("company")), lead_id))
        conn.executemany("UPDATE leads SET account_key = ? WHERE id = ?", updates)
    conn.execute("CREATE INDEX leads_account ON leads(account_key)")


def _migration_10(conn: sqlite3.Connection) -> None:
    """The account index covers the status: the preview pane counts an account's other
    leads by status as the cursor moves, and an account of 5,000 leads read each row
    (42 ms a step at 100,000 leads; with the status in the index, the index alone)."""
    conn.execute("DROP INDEX leads_account")
    conn.execute("CREATE INDEX leads_account ON leads(account_key, status)")


def _migration_11(conn: sqlite3.Connection) -> None:
    """Each lead's email as duplicates compare it (trimmed, case folded), indexed: the lead
    screen and the preview pane flag the rep's other leads with the same email."""
    conn.execute("ALTER TABLE leads ADD COLUMN email_key TEXT")
    rows = conn.execute("SELECT id, json FROM lead_server")
    while batch := rows.fetchmany(_CHUNK):
        updates = [(_email_key(json.loads(text).get("email")), i) for i, text in batch]
        conn.executemany("UPDATE leads SET email_key = ? WHERE id = ?", updates)
    conn.execute("CREATE INDEX leads_email ON leads(email_key)")


def _migration_12(conn: sqlite3.Connection) -> None:
    """The queue grouped by account (the "account" sort): each lead's account as it sorts
    (its key, none last), indexed with the SLA order inside an account. A real column, not
    an index on an expression: SQLite reads no table row for a covering index (a page at
    offset 50,000 in 2 ms), where the expression's index read each row skipped (100 ms)."""
    conn.execute(f"ALTER TABLE leads ADD COLUMN account_sort TEXT NOT NULL DEFAULT '{_NO_ACCOUNT}'")
    conn.execute(f"UPDATE leads SET account_sort = ifnull(account_key, '{_NO_ACCOUNT}')")
    conn.execute("CREATE INDEX leads_group ON leads(status, account_sort, sla_sort, score DESC)")


def _migration_13(conn: sqlite3.Connection) -> None:
    """Each lead's suggestion in the queue's projection (outcome, and a rejection's or a
    nurture's reason, "reject not_icp_fit"; its confidence apart), so the queue's narrow
    column reads it with the page; indexed by confidence among open leads, so the queue
    learns whether any lead shows one (the column is hidden otherwise) in one index probe."""
    conn.execute("ALTER TABLE leads ADD COLUMN suggestion TEXT")
    conn.execute("ALTER TABLE leads ADD COLUMN suggestion_confidence REAL")
    rows = conn.execute("SELECT id, json FROM lead_server")
    while batch := rows.fetchmany(_CHUNK):
        updates = []
        for lead_id, text in batch:
            shown = _suggestion_key(suggestion_from_dict(json.loads(text).get("suggestion")))
            if shown != (None, None):
                updates.append((*shown, lead_id))
        conn.executemany(
            "UPDATE leads SET suggestion = ?, suggestion_confidence = ? WHERE id = ?", updates
        )
    conn.execute("CREATE INDEX leads_suggested ON leads(status, suggestion_confidence)")


_MIGRATIONS = (
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6,
    _migration_7, _migration_8, _migration_9, _migration_10, _migration_11,
    _migration_12, _migration_13,
)  # fmt: skip

SCHEMA_VERSION = len(_MIGRATIONS)


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
