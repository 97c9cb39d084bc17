"""SQLite writers waiting for the database are seen by a long writer between its
transactions (triage.server.giveway), across threads (each waiter its own open file)."""

from __future__ import annotations

import threading

import pytest

from triage.server import giveway
from triage.server.db import Database


def test_nobody_waiting_means_no_pause(tmp_path) -> None:
    w = giveway.Waiting(tmp_path / "server.db")
    assert w.give_way() is False
    assert (tmp_path / "server.db-waiting").stat().st_mode & 0o777 == 0o600


def test_a_long_writer_gives_way_until_the_waiting_writer_has_its_turn(tmp_path) -> None:
    w = giveway.Waiting(tmp_path / "server.db")
    inside, leave, order = threading.Event(), threading.Event(), []

    def writer() -> None:
        with w.waiting():
            inside.set()
            leave.wait(10)
            order.append("the waiting writer got the lock")

    t = threading.Thread(target=writer)
    t.start()
    assert inside.wait(10)
    threading.Timer(0.05, leave.set).start()
    assert w.give_way() is True
    order.append("the long writer goes on")
    t.join(10)
    assert order == ["the waiting writer got the lock", "the long writer goes on"]


def test_writers_that_keep_coming_cannot_stop_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(giveway, "MOST", 0.05)
    w = giveway.Waiting(tmp_path / "server.db")
    with w.waiting():  # one that never gets its turn (here: never leaves)
        assert w.give_way() is True  # returns after MOST all the same


def test_a_database_write_is_seen_waiting_while_another_holds_sqlite(tmp_path) -> None:
    """Database.write() takes the shared lock while it waits for BEGIN IMMEDIATE: an
    import between two chunks sees it (give_way True), and it gets in."""
    db = Database(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        with db.write_engine.begin() as conn:  # create a table to write to
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        holder = db.write_engine.connect()
        holder.exec_driver_sql("INSERT INTO t VALUES (1)")  # BEGIN IMMEDIATE: it holds the lock
        done = threading.Event()

        def rep_writes() -> None:
            with db.bookkeeping() as s:
                s.connection().exec_driver_sql("INSERT INTO t VALUES (2)")
            done.set()

        t = threading.Thread(target=rep_writes)
        t.start()
        seen = False
        for _ in range(500):  # until the rep's write is waiting for the lock
            if not _free(db):
                seen = True
                break
            threading.Event().wait(0.01)
        holder.commit()
        holder.close()
        assert seen
        t.join(10)
        assert done.is_set()
    finally:
        db.dispose()


def _free(db: Database) -> bool:
    import fcntl
    import os

    fd = os.open(db.waiters.path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    finally:
        os.close(fd)


def test_postgresql_needs_no_file(tmp_path) -> None:
    pytest.importorskip("psycopg")
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    assert db.waiters is None and db.give_way() is False
    db.dispose()
