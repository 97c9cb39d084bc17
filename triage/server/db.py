"""Engines and transactions for the server: SQLite (WAL) by default, PostgreSQL by URL.

Four kinds of transaction, and nothing else touches the database:
- `write()`: serialised. On SQLite it begins with BEGIN IMMEDIATE; on PostgreSQL
  it locks the change counter row first. Either way one writer at a time holds
  the counter, so change numbers commit in the order they were handed out.
- `bookkeeping()`: a short write that allocates no change number and never takes
  the counter's lock (users and tokens, a token's last use, sessions, delivery
  state, jobs), so it never queues behind a push or an import on PostgreSQL. On
  SQLite every write takes the one database lock; these are kept short.
- `read()`: one consistent snapshot (BEGIN on SQLite's WAL; REPEATABLE READ,
  READ ONLY on PostgreSQL), so a pull's leads, revocations, cursor and last_seq
  all describe the same moment.
- `migration_lock()`: the schema step at start-up (see triage.server.migrate):
  BEGIN IMMEDIATE on SQLite, a transaction-scoped advisory lock on PostgreSQL.
"""

from __future__ import annotations

import operator
import secrets
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, bindparam, event, insert, select, text, type_coerce
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlmodel import Session, create_engine

from triage.config import ensure_private_db_file, loose_dir_warning
from triage.server import (
    models,
    models_suggest,  # noqa: F401  (its tables join the metadata)
    models_webhooks,  # noqa: F401  (its tables join the metadata)
    models_workspace,  # noqa: F401  (its tables join the metadata)
)
from triage.server.giveway import Waiting

SEQ = "seq"
SQLITE_BUSY_MS = 30_000  # how long a SQLite write waits for another writer


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class BadURL(Exception):
    """The URL names no database Triage can use (a usage error); the message says why."""


class Unavailable(Exception):
    """The database cannot be opened or reached; the message says what and what to do."""


def explain(exc: BaseException) -> str:
    """A database error in one line: the driver's own first line, without SQLAlchemy's
    wrapping (the statement, the parameters, the link to its docs)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [x.strip() for x in str(orig).strip().splitlines() if x.strip()]
    return lines[0] if lines else type(orig).__name__


def shown_url(url: str) -> str:
    """A database URL for messages and logs: without its password or driver name."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url.split("@")[-1]
    parsed = parsed.set(drivername=parsed.get_backend_name())
    return parsed.render_as_string(hide_password=True)


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if "://" not in url:  # a bare path
        url = "sqlite:///" + str(Path(url).expanduser().resolve())
    return url


class _Median:
    """`median(x)` for SQLite, which has no such aggregate (PostgreSQL's is
    percentile_cont(0.5)): the middle of the non-NULL values, the mean of the two middle
    ones for an even count. The reports' median time to decision: one pass over the
    rows, where ranking them in a window sorted them twice."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # pragma: no cover - trivial
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        # 64 MiB of page cache (the default is 2): a push rewrites index pages all over a
        # large lead table, and each re-read of one is a read of the file.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.close()
        dbapi_conn.create_aggregate("median", 1, _Median)

    @event.listens_for(engine, "begin")
    def _begin(conn):  # pragma: no cover - trivial
        conn.exec_driver_sql(begin)

    return engine


class Database:
    def __init__(self, url: str):
        """Raises BadURL for a URL of no database Triage can use, Unavailable for a SQLite
        file whose directory does not exist (a mistyped path is refused, never made)."""
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except (ArgumentError, ValueError) as exc:
            raise BadURL(f"not a database URL: {self.shown_url} ({exc})") from None
        kind = parsed.get_backend_name()
        self.is_sqlite = kind == "sqlite"
        self.sqlite_path: Path | None = None
        self.warnings: list[str] = []  # for the operator (e.g. a directory others may read)
        # told how long each write() waited for the write lock (the server's /metrics)
        self.lock_waited: Callable[[float], None] | None = None
        if self.is_sqlite:
            if parsed.host:
                raise BadURL(
                    f"a SQLite URL has no host: {self.url} (write sqlite:///relative.db or "
                    "sqlite:////absolute/path.db, or the path itself)"
                )
            if parsed.database and parsed.database != ":memory:":
                self.sqlite_path = Path(parsed.database)
                self._private_file(self.sqlite_path)
        elif kind == "postgresql":
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise Unavailable(
                    "PostgreSQL needs the postgres extra: pip install 'triage[server,postgres]'"
                ) from None
        else:
            raise BadURL(
                f"not a database Triage can use: {kind}:// (use a SQLite file, as a path or "
                "sqlite:///path.db, or postgresql://user@host/db)"
            )
        self.waiters = Waiting(self.sqlite_path) if self.sqlite_path is not None else None
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(self.url, "BEGIN")
        else:
            base = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self.write_engine = base.execution_options(isolation_level="READ COMMITTED")
            self.read_engine = base.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )

    def _private_file(self, path: Path) -> None:
        """The SQLite file made 0600 before SQLite makes it (its -wal and -shm take the
        file's mode), or tightened to owner-only; its directory is not ours to change
        (the operator chose it): a warning when others may read it."""
        folder = path.parent
        if not folder.is_dir():
            raise Unavailable(
                f"{folder.absolute()}: no such directory (the database's); "
                "create it first, or correct the path"
            )
        try:
            ensure_private_db_file(path)
        except OSError as exc:
            raise Unavailable(f"{path}: cannot create or secure the database file: {exc}") from None
        warning = loose_dir_warning(folder.absolute())
        if warning:
            self.warnings.append(warning)

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)

    def ping(self) -> None:
        """One small read from the database as it is now; raises when that fails.

        SQLite: a fresh connection that may not create the file (the pool's connections
        would go on reading a file that was moved or deleted under them). PostgreSQL: a
        pooled connection, with a statement timeout so a lock cannot hold it for ever.
        """
        if self.sqlite_path is not None:
            uri = self.sqlite_path.absolute().as_uri() + "?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=2, check_same_thread=False)
            try:
                conn.execute("SELECT value FROM counter WHERE name = ?", (SEQ,)).fetchone()
            finally:
                conn.close()
            return
        with self.read_engine.connect() as conn:
            if not self.is_sqlite:
                conn.execute(text("SET LOCAL statement_timeout = 2000"))
            conn.execute(select(models.Counter.value).where(models.Counter.name == SEQ)).one()
            conn.rollback()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        with Session(self.write_engine, expire_on_commit=False) as session:
            with session.begin():
                started = time.perf_counter()
                with self._waiting():
                    session.connection()  # take the write lock now (BEGIN IMMEDIATE on SQLite)
                if not self.is_sqlite:
                    # Serialise writers on the counter row before reading anything.
                    session.execute(
                        text("SELECT value FROM counter WHERE name = :n FOR UPDATE"), {"n": SEQ}
                    )
                if self.lock_waited is not None:
                    self.lock_waited(time.perf_counter() - started)
                yield session

    @contextmanager
    def bookkeeping(self, *, wait: bool = True) -> Iterator[Session]:
        """A write that allocates no change number and does not lock the counter.

        `wait=False` is for a write that may be skipped (a token's last use): on SQLite,
        where every write takes the one database lock, it fails at once (OperationalError,
        "database is locked") instead of waiting out the busy timeout behind another
        writer, so a request that only reads never queues behind an import or a push.
        """
        if wait or not self.is_sqlite:
            with Session(self.write_engine, expire_on_commit=False) as session:
                with session.begin():
                    with self._waiting():
                        session.connection()
                    yield session
            return
        with self.write_engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    with session.begin():
                        yield session
            finally:
                raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")

    def _waiting(self) -> AbstractContextManager[None]:
        """Around taking SQLite's write lock: seen by a long writer that gives way."""
        return self.waiters.waiting() if self.waiters is not None else nullcontext()

    def refresh_statistics(self, table: str) -> None:
        """PostgreSQL: ANALYZE `table` now, in a transaction of its own (it blocks no reads
        or writes). A long import outgrows the statistics the planner had when it began,
        and autovacuum's ANALYZE comes too late: a first import of 100,000 leads read the
        whole lead table by sequential scans 630 times (178 s; 20,000 rows took 3.7 s).
        SQLite: nothing (its planner does not read statistics it was not given)."""
        if self.is_sqlite:
            return
        with self.write_engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f"ANALYZE {conn.dialect.identifier_preparer.quote(table)}"
            )

    def give_way(self) -> bool:
        """Between the transactions of a long write (an import's chunks): let writers
        that wait for the database have their turn first (triage.server.giveway). On
        PostgreSQL those waiting for the counter row's lock are queued in order already."""
        return self.waiters.give_way() if self.waiters is not None else False

    @contextmanager
    def migration_lock(self) -> Iterator[Connection]:
        """One connection in a transaction that only one process at a time may hold
        (per SQLite file; per PostgreSQL schema), for creating or upgrading the schema."""
        with self.write_engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite
            if not self.is_sqlite:
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {
                        "key": "triage.migrate:"
                        + str(conn.execute(text("SELECT current_schema()")).scalar())
                    },
                )
            yield conn

    @contextmanager
    def rehearsal(self) -> Iterator[Session]:
        """A dry run of a write: a read transaction without autoflush, always rolled back,
        so what the caller changes on its objects is never written (an import's dry run)."""
        with Session(self.read_engine, expire_on_commit=False, autoflush=False) as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session


def insert_rows(table: Table, columns: Sequence[str]) -> Insert:
    """An INSERT of the named columns, each a bind parameter of the same name (executemany)."""
    return insert(table).values({c: bindparam(c) for c in columns})


_COMPILED: dict[tuple[int, str], tuple[Compiled, Any]] = {}


def executemany(
    s: Session, stmt: Insert | Update | Delete, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`stmt` (its values bind parameters named as the rows' keys; a module-level statement,
    compiled once per dialect) for every row, in one executemany of the driver. Each value
    goes through its column type's own conversion (a time once per distinct value), but
    not through SQLAlchemy's per-row work, which costs more than SQLite's own at a push's
    thousands of rows."""
    if not rows:
        return
    conn = s.connection()
    dialect = conn.dialect
    key = (id(stmt), dialect.name)
    if key not in _COMPILED:
        compiled = stmt.compile(dialect=dialect)
        _COMPILED[key] = (compiled, _converters(compiled, dialect))
    compiled, (names, converters) = _COMPILED[key]
    # each row's values as a tuple, and the columns that need converting as columns (the
    # transposing done by zip: a lead row has 35 columns, most of them taken as they are)
    if len(names) == 1:
        values: list[Any] = [(row[names[0]],) for row in rows]
    else:
        values = list(map(operator.itemgetter(*names), rows))
    if converters:
        columns = list(zip(*values, strict=True))
        for i, name in enumerate(names):
            convert = converters.get(name)
            if convert is not None:
                columns[i] = convert(list(columns[i]))
        values = list(zip(*columns, strict=True))
    if dialect.positional:
        params: list[Any] = values
    else:
        params = [dict(zip(names, v, strict=True)) for v in values]
    conn.exec_driver_sql(compiled.string, params)


def _converters(compiled: Compiled, dialect: Dialect) -> tuple[list[str], dict[str, Any]]:
    """The bind names in the order the driver takes them, and for each that needs one, a
    function converting a column of values (times memoised: a push repeats its own)."""
    names = list(compiled.positiontup or ()) if dialect.positional else list(compiled.binds)
    converters: dict[str, Any] = {}
    for name in names:
        kind = compiled.binds[name].type
        process = kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and isinstance(_impl(kind), sqltypes.JSON):
            converters[name] = _json_converter(process)
        elif process is not None:
            converters[name] = _column_converter(kind, process)
    return names, converters


def _impl(kind: Any) -> Any:
    return getattr(kind, "impl_instance", kind)


def _column_converter(kind: Any, process: Any) -> Any:
    """A function converting a column of values with `process` (a column type's bind or
    result processor): times memoised, once per distinct value (a push repeats its own)."""
    if isinstance(_impl(kind), (sqltypes.DateTime, sqltypes.Date)):
        return _memoised(process)
    return lambda values: [process(v) for v in values]


def _json_converter(process: Any) -> Any:
    """JSON values, the empty ones (None, {}, []) encoded once: an import's new leads
    carry eight JSON columns, mostly empty (800,000 encodings for 100,000 rows)."""

    def convert(values: list[Any]) -> list[Any]:
        empty: dict[type, Any] = {}
        out = []
        for v in values:
            if v is None or ((type(v) is dict or type(v) is list) and not v):
                kind = type(v)
                if kind not in empty:
                    empty[kind] = process(v)
                out.append(empty[kind])
            else:
                out.append(process(v))
        return out

    return convert


def _memoised(process: Any) -> Any:
    def convert(values: list[Any]) -> list[Any]:
        seen: dict[Any, Any] = {}
        out = []
        for v in values:
            if v not in seen:
                seen[v] = process(v)
            out.append(seen[v])
        return out

    return convert


def plain_rows(s: Session, stmt: Select) -> list[tuple[Any, ...]]:
    """The rows of `stmt` (a select of columns) as tuples, each value converted by its
    column's type as SQLAlchemy's own result would, but a time once per distinct value
    (a push reads the times of its 500 leads, which share a few: an import's assignment,
    the decisions of one push). SQLAlchemy's per-value processing of them cost more than
    the database's read."""
    dialect = s.connection().dialect
    columns = list(stmt.selected_columns)
    raw = stmt.with_only_columns(
        *(type_coerce(c, sqltypes.NullType()).label(f"c{i}") for i, c in enumerate(columns))
    )
    result = s.execute(raw)
    kinds = [d[1] for d in result.context.cursor.description]  # as the driver tells them
    rows = result.all()
    if not rows:
        return []
    converters = []
    for c, kind in zip(columns, kinds, strict=True):
        process = c.type.dialect_impl(dialect).result_processor(dialect, kind)
        converters.append(None if process is None else _column_converter(c.type, process))
    values = [list(column) for column in zip(*rows, strict=True)]
    for i, convert in enumerate(converters):
        if convert is not None:
            values[i] = convert(values[i])
    return list(zip(*values, strict=True))


class SeqAllocator:
    """Hands out change numbers inside one write transaction; at the end it stores the last
    and writes a change-log row (with a random digest) for each number handed out, all
    dated by the transaction's start (the log is pruned by age: a transaction's changes
    go together)."""

    def __init__(self, session: Session):
        self.session = session
        self.at = utcnow()
        row = session.execute(select(models.Counter).where(models.Counter.name == SEQ)).scalar_one()
        self.row = row
        self.value = row.value
        self.changes: list[dict[str, object]] = []

    def next(self, lead_id: str | None = None, kind: str = "change") -> int:
        self.value += 1
        self.changes.append({"seq": self.value, "lead_id": lead_id, "kind": kind, "at": self.at})
        return self.value

    def close(self) -> None:
        if self.changes:
            # The digests drawn together: one call to the system's randomness for a push's
            # 500 numbers, not one each (as random, 6 bytes each).
            randomness = secrets.token_hex(_DIGEST_BYTES * len(self.changes))
            width = 2 * _DIGEST_BYTES
            for i, change in enumerate(self.changes):
                change["digest"] = randomness[i * width : (i + 1) * width]
            executemany(self.session, _CHANGES, self.changes)
            self.changes = []
        if self.value != self.row.value:
            self.row.value = self.value


_CHANGES = insert_rows(models.ChangeLog.__table__, ("seq", "digest", "lead_id", "kind", "at"))
_DIGEST_BYTES = 6  # a change-log digest: 12 hex digits


def current_seq(session: Session) -> int:
    return session.execute(
        select(models.Counter.value).where(models.Counter.name == SEQ)
    ).scalar_one()
