"""A large import never stalls reps: it is checked whole, then written in chunks.

Each chunk is its own transaction, so the change counter (and SQLite's file lock) is held
for one chunk at a time; a rep's sync goes on between two chunks. A chunk that fails leaves
the chunks before it written, and the import run again converges (an upsert by
external_id). Real server on loopback, real SQLite files and PostgreSQL schemas.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.support.backend import open_leads_by_rep
from tests.support.client import Device
from tests.support.factories import lead_row
from triage.server import models
from triage.server.services import imports
from triage.server.services.common import RowProblems


def _count_leads(backend) -> int:
    with backend.db.read() as s:
        return s.execute(select(func.count()).select_from(models.Lead)).scalar_one()


def _state(backend) -> list[tuple]:
    L = models.Lead
    with backend.db.read() as s:
        q = select(L.external_id, L.name, L.owner_id, L.status, L.score).order_by(L.external_id)
        return [tuple(r) for r in s.execute(q)]


@pytest.mark.slow  # 20,000 rows
def test_a_rep_syncs_while_a_large_import_is_still_running(live_sqlite, tmp_path) -> None:
    """The import stops after its first chunk until the rep's sync has ended: a sync
    that needed the import to end first would never end (it times out and fails). SQLite
    only: the chunks are the same transactions on PostgreSQL (tested below, smaller)."""
    live = live_sqlite
    live.upsert([lead_row(n) for n in range(1, 4)])
    dev = Device(tmp_path / "laptop", live.url, live.ann.token)
    dev.home.mkdir()
    assert dev.sync().ok
    dev.decide(sorted(dev.open_ids())[:2], "accept")

    rows = [lead_row(n) for n in range(10, 20_010)]
    first_chunk_written = threading.Event()
    synced = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 1:
            first_chunk_written.set()
            synced.wait(timeout=120)

    outcome: list = []
    importer = threading.Thread(
        target=lambda: outcome.append(live.backend.import_leads(rows, progress=progress))
    )
    importer.start()
    try:
        assert first_chunk_written.wait(timeout=120)
        report = dev.sync()  # the import is stopped between two chunks meanwhile
        written_during = _count_leads(live.backend)
    finally:
        synced.set()
        importer.join(timeout=300)
    assert report.ok, report.error
    assert report.pushed == 2 and report.pending == 0
    assert written_during == 3 + imports.CHUNK  # the sync ran with the import half-way
    assert outcome and outcome[0].created == 20_000
    assert seen[0] == (imports.CHUNK, 20_000) and seen[-1] == (20_000, 20_000)
    assert len(seen) == -(-20_000 // imports.CHUNK)
    assert dev.sync().ok
    assert dev.open_ids() == open_leads_by_rep(live.backend)["ann@example.com"]
    assert len(dev.open_ids()) == 1 + 20_000


def test_an_import_that_fails_half_way_converges_when_run_again(
    live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk fails (here: the process dies after the second chunk): the chunks before it
    stay written; the same file imported again ends as one uninterrupted import would."""
    monkeypatch.setattr(imports, "CHUNK", 7)
    live.upsert([lead_row(n, score=1) for n in range(1, 11)])  # 10 exist; the file updates them
    rows = [lead_row(n, score=50) for n in range(1, 31)]

    def dies(done: int, total: int) -> None:
        if done >= 14:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        live.backend.import_leads(rows, progress=dies)
    assert _count_leads(live.backend) == 14  # 10 + 4 new in the first two chunks

    again = live.backend.import_leads(rows)
    assert (again.created, again.updated, again.unchanged) == (16, 0, 14)
    after = _state(live.backend)
    assert len(after) == 30 and {score for *_, score in after} == {50}


def test_a_bad_row_anywhere_writes_no_chunk(live, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole file is checked before the first chunk is written."""
    monkeypatch.setattr(imports, "CHUNK", 5)
    rows = [lead_row(n) for n in range(1, 30)]
    rows[27]["email"] = "not an email"
    rows[28]["owner"] = "nobody@example.com"
    with pytest.raises(RowProblems) as caught:
        live.backend.import_leads(rows)
    assert [label for label, _ in caught.value.problems] == ["row 28", "row 29"]
    assert _count_leads(live.backend) == 0


def test_an_owner_who_changed_between_the_check_and_the_chunk_is_skipped_with_why(
    live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rep is deactivated while the import runs: rows naming them in later chunks are
    skipped, and the outcome says why (a chunk never gives a lead to a deactivated rep)."""
    monkeypatch.setattr(imports, "CHUNK", 4)
    rows = [lead_row(n, owner="bob@example.com" if n > 8 else "ann@example.com")
            for n in range(1, 13)]  # fmt: skip

    def deactivate_bob(done: int, total: int) -> None:
        if done == 4:
            live.backend.set_active("bob@example.com", False)

    done = live.backend.import_leads(rows, progress=deactivate_bob)
    assert done.created == 8
    assert [label for label, _ in done.skipped] == ["row 9", "row 10", "row 11", "row 12"]
    assert all("changed during the import" in why and "deactivated" in why
               for _, why in done.skipped)  # fmt: skip
