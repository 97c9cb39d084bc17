"""`/v1/health` is liveness and never touches the database; `/v1/ready` (no authentication)
checks the database and answers 503 when the check fails or does not succeed within one
second, whatever the database's own busy timeout, so a load balancer stops routing there."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import PG_URL, Live


def _ready(live: Live) -> httpx.Response:
    return live.anon.get("/v1/ready")


def _until_ready(live: Live) -> httpx.Response:
    """A check left running by a failure finishes by itself; then the next one passes."""
    deadline = time.monotonic() + 30
    r = _ready(live)
    while r.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        r = _ready(live)
    return r


def test_ready_checks_the_database_and_health_does_not(live: Live) -> None:
    r = _ready(live)
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert "authorization" not in {k.lower() for k in live.anon.headers}
    _break(live)
    r = _ready(live)
    assert r.status_code == 503
    assert r.json()["error"] == "not_ready"
    # liveness: the process is up, whatever its database does
    health = live.anon.get("/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert live.ann.get("/v1/me").status_code == 500  # what ready warned about


def _break(live: Live) -> None:
    """The database gone under the running server: the SQLite file moved away, the
    PostgreSQL schema dropped."""
    db = live.backend.db
    if db.is_sqlite:
        assert db.sqlite_path is not None
        os.rename(db.sqlite_path, db.sqlite_path.with_name("moved.db"))
        for suffix in ("-wal", "-shm"):
            side = db.sqlite_path.with_name(db.sqlite_path.name + suffix)
            if side.exists():
                os.rename(side, db.sqlite_path.with_name("moved.db" + suffix))
        db.dispose()  # the pool's open connections would still read the moved file
    else:
        schema = db.url.rsplit("search_path%3D", 1)[1]
        plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")  # for the fixture to drop


def test_a_locked_database_is_not_ready_within_a_second(live: Live) -> None:
    """A lock held by another connection: not ready (the check gives up after one second,
    as the next test shows without a clock), and ready again once the lock is gone."""
    db = live.backend.db
    release = threading.Event()
    holding = threading.Event()

    def hold_sqlite() -> None:
        assert db.sqlite_path is not None
        conn = sqlite3.connect(db.sqlite_path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("UPDATE counter SET value = value")
            holding.set()
            release.wait(60)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def hold_pg() -> None:
        with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            conn.execute("LOCK TABLE counter IN ACCESS EXCLUSIVE MODE")
            holding.set()
            release.wait(60)

    if db.is_sqlite:
        db.dispose()  # an exclusive lock needs the server's idle connections closed
    holder = threading.Thread(target=hold_sqlite if db.is_sqlite else hold_pg)
    holder.start()
    try:
        assert holding.wait(30)
        r = _ready(live)
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        assert live.anon.get("/v1/health").status_code == 200
    finally:
        release.set()
        holder.join(60)
    assert _until_ready(live).status_code == 200


def test_a_hung_check_is_abandoned_after_a_second_and_not_repeated(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check runs beside the request: a check that never returns still gets each ready
    request its 503 (the request would hang with it otherwise), and never more than one
    check waits on the database."""
    release = threading.Event()
    calls = []

    def hung() -> None:
        calls.append(1)
        release.wait(60)

    monkeypatch.setattr(live.backend.db, "ping", hung)
    try:
        for _ in range(3):
            assert _ready(live).status_code == 503
        assert len(calls) == 1
    finally:
        release.set()
    monkeypatch.undo()
    assert _until_ready(live).status_code == 200


def test_health_answers_with_no_database_at_all(tmp_path: Path) -> None:
    """Liveness reads nothing from the database: what it serves was read at start."""
    from triage.server.live import ServerThread
    from triage.server.service import Backend

    backend = Backend.open(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with ServerThread(backend) as thread:
            backend.db.dispose()
            os.rename(tmp_path / "s.db", tmp_path / "moved.db")
            reads = []
            backend.db.read = lambda: reads.append(1)  # type: ignore[method-assign]
            r = httpx.get(thread.url + "/v1/health")
            assert r.status_code == 200 and r.json()["server_id"] == backend.identity.server_id
            assert reads == []
            assert httpx.get(thread.url + "/v1/ready").status_code == 503
    finally:
        backend.close()
