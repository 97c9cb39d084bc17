"""Lead data is readable by its owner only: under a normal umask (022) Triage makes its own
data directories 0700 and its database files 0600, the SQLite -wal and -shm beside them
too, on the client (the local queue) and on the server (server.db), and takes looser
ones it finds back to that. A directory an operator chose with --db is not changed: a
warning says it is open to others."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage.server.service import Backend
from triage.store import Store


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def companions(db: Path) -> list[Path]:
    found = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
    assert all(p.exists() for p in found), "expected the WAL files of an open database"
    return found


def test_the_client_store_is_private(tmp_path: Path) -> None:
    data = tmp_path / "profile" / "data"
    db = data / "triage.db"
    store = Store.open(db)
    try:
        store.set_me("ann@example.com", "Ann", "rep")  # a write: the WAL exists
        assert mode(data) == 0o700
        for path in (db, *companions(db)):
            assert mode(path) == 0o600, path
    finally:
        store.close()
    # the same through the command line, in a profile (TRIAGE_HOME)
    home = tmp_path / "home"
    run_cli("status", home=home, check=True)
    assert mode(home) == 0o700 and mode(home / "triage.db") == 0o600


def test_a_loose_client_store_is_tightened_on_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "triage.db"
    Store.open(db).close()
    os.chmod(data, 0o755)
    os.chmod(db, 0o644)
    for suffix in ("-wal", "-shm"):  # left by a crash, or made by an older triage
        db.with_name(db.name + suffix).touch(0o644)
    store = Store.open(db)
    try:
        assert mode(data) == 0o700
        for path in (db, *companions(db)):
            assert mode(path) == 0o600, path
    finally:
        store.close()


def test_the_server_database_in_the_data_dir_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ran = run_cli("server", "add-user", "ann@example.com", home=home, check=True)
    assert "warning" not in ran.stderr
    db = home / "server.db"
    assert mode(home) == 0o700 and mode(db) == 0o600
    backend = Backend.open(f"sqlite:///{db}")
    try:
        backend.upsert_leads([lead_row(1)])
        for path in (db, *companions(db)):
            assert mode(path) == 0o600, path
    finally:
        backend.close()
    # looser ones are tightened when a command opens them
    os.chmod(home, 0o755)
    os.chmod(db, 0o644)
    run_cli("server", "users", home=home, check=True)
    assert mode(home) == 0o700 and mode(db) == 0o600


def test_a_directory_the_operator_chose_is_warned_about_not_changed(tmp_path: Path) -> None:
    chosen = tmp_path / "srv"
    chosen.mkdir(mode=0o755)
    os.chmod(chosen, 0o755)
    db = chosen / "triage-server.db"
    ran = run_cli("server", "users", "--db", str(db), home=tmp_path / "home", check=True)
    assert mode(chosen) == 0o755  # not ours to change
    assert mode(db) == 0o600
    [warning] = [x for x in ran.stderr.splitlines() if "warning" in x]
    assert str(chosen) in warning and "chmod 700" in warning
    os.chmod(db, 0o644)
    run_cli("server", "users", "--db", f"sqlite:///{db}", home=tmp_path / "home", check=True)
    assert mode(db) == 0o600
    os.chmod(chosen, 0o700)
    ran = run_cli("server", "users", "--db", str(db), home=tmp_path / "home", check=True)
    assert "warning" not in ran.stderr
