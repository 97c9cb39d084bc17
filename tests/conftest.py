"""Shared fixtures: a real server over real HTTP on 127.0.0.1, on SQLite and (when available) PostgreSQL.

Set TRIAGE_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run the
server's tests on PostgreSQL too; each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

PG_URL = os.environ.get("TRIAGE_TEST_PG_URL")


def _quicker_pilot() -> None:
    """Textual's pilot waits, after each key, until the app looks idle: it sleeps 20 ms
    at a time until one of those sleeps saw under 1 ms of CPU (textual._wait), twice a
    key, so a key costs 40 ms or more even when the app is done in 2 ms, and that wait was
    most of the TUI tests' time (the fast lane's largest part). Here a sleep is 5 ms and
    "idle" is under a fifth of it busy: the same test of idleness (the CPU time of the
    whole process, worker threads included), at a finer grain. TRIAGE_TEST_IDLE_MS=20
    restores Textual's own."""
    import textual._wait as wait

    grain = float(os.environ.get("TRIAGE_TEST_IDLE_MS", "5")) / 1000
    wait.SLEEP_GRANULARITY = grain
    wait.SLEEP_IDLE = grain / 20 if grain >= 0.02 else grain / 5


_quicker_pilot()
# The server tests run on SQLite in the fast lane and on PostgreSQL too in the full suite
# (the PostgreSQL variants are marked slow; they need TRIAGE_TEST_PG_URL).
ENGINES = [pytest.param("sqlite", id="sqlite")] + (
    [pytest.param("postgresql", id="postgresql", marks=pytest.mark.slow)] if PG_URL else []
)


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty server database: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    yield from _pg_schema()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema; these tests need TRIAGE_TEST_PG_URL."""
    if not PG_URL:
        pytest.skip("TRIAGE_TEST_PG_URL is not set")
    yield from _pg_schema()


def _pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(plain, schema)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'server.db'}"


@dataclass
class Actor:
    email: str
    token: str
    client: httpx.Client

    def get(self, path: str, **kw) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.client.post(path, **kw)


@dataclass
class Live:
    """A running server with two reps and one marketing user."""

    url: str
    backend: object
    thread: object
    ann: Actor
    bob: Actor
    mo: Actor
    anon: httpx.Client

    def actor(self, email: str, role: str = "rep") -> Actor:
        _, token, _ = self.backend.add_user(email, None, role)
        return Actor(email, token, _client(self.url, token))

    def upsert(self, rows: list[dict]) -> dict:
        r = self.mo.post("/v1/leads", json={"leads": rows})
        assert r.status_code == 200, r.text
        return r.json()


def _client(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


@pytest.fixture
def live(db_url) -> Iterator[Live]:
    yield from _live(db_url)


@pytest.fixture
def live_sqlite(sqlite_url) -> Iterator[Live]:
    """The same as `live`, on SQLite only: for client tests, where the engine is not the subject."""
    yield from _live(sqlite_url)


def _live(db_url: str) -> Iterator[Live]:
    from triage.server.live import ServerThread
    from triage.server.service import Backend

    backend = Backend.open(db_url)
    thread = ServerThread(backend).start()
    clients = []

    def actor(email: str, role: str) -> Actor:
        _, token, _ = backend.add_user(email, None, role)
        c = _client(thread.url, token)
        clients.append(c)
        return Actor(email, token, c)

    anon = _client(thread.url, None)
    try:
        yield Live(
            thread.url, backend, thread,
            actor("ann@example.com", "rep"), actor("bob@example.com", "rep"),
            actor("mo@example.com", "marketing"), anon,
        )  # fmt: skip
    finally:
        for c in [*clients, anon]:
            c.close()
        thread.stop()
        backend.close()
