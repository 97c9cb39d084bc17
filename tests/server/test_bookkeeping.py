"""Bookkeeping writes (users and tokens now; a token's last use, sessions and deliveries
later) take no change number and never wait for the change counter: on PostgreSQL they go
through while a push or an import holds the counter's lock."""

from __future__ import annotations

import threading

from sqlalchemy import select

from triage.server import models
from triage.server.db import SeqAllocator
from triage.server.service import Backend


def test_a_bookkeeping_write_does_not_wait_for_the_counter(pg_url: str) -> None:
    backend = Backend.open(pg_url)
    holding = threading.Event()
    release = threading.Event()

    def long_writer() -> None:  # a push or an import, holding the counter row
        with backend.db.write() as s:
            SeqAllocator(s).next()
            holding.set()
            release.wait(20)

    writer = threading.Thread(target=long_writer)
    writer.start()
    try:
        assert holding.wait(10)
        done = threading.Event()
        result: dict[str, object] = {}

        def bookkeeping() -> None:
            result["user"] = backend.add_user("cy@example.com", None, "rep")[0]
            done.set()

        worker = threading.Thread(target=bookkeeping)
        worker.start()
        # it finishes while the writer still holds the counter (structure, not timing)
        assert done.wait(10), "add_user queued behind the counter's lock"
        assert writer.is_alive() and not release.is_set()
        with backend.db.read() as s:
            counter = s.execute(select(models.Counter.value)).scalar_one()
        assert counter == 0  # and it took no change number
    finally:
        release.set()
        writer.join(20)
        backend.close()
