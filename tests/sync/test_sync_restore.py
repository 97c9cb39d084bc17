"""A server restored from a backup: no decision stuck, lost or reversed, with real processes.

The server runs as its own process on a SQLite file (or a PostgreSQL schema). A backup is
taken after the rep's first decisions; the rep decides more (synced), and more offline;
then the server is put back to the backup (by a plain file copy: "by other means", or with
`triage server backup/restore`) and marketing loads new leads, so the change counter runs
past the rep's cursor. The rep's next sync must heal: every new lead pulled, the decisions
the server lost sent again exactly once as the same decisions (their event ids unchanged),
the offline ones numbered after what the restored server knows under ids never used before,
a card for each.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.support.backend import open_leads_by_rep
from tests.support.cli import run_cli
from tests.support.client import Device, decisions_per_lead, server_events
from tests.support.factories import lead_row
from tests.support.server import ServerProcess
from triage.server.service import Backend

pytestmark = pytest.mark.slow  # server processes started and stopped


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A file-level copy of a stopped server's database (its WAL too, if any)."""
    for suffix in ("", "-wal", "-shm"):
        target = Path(str(dst) + suffix)
        target.unlink(missing_ok=True)
        source = Path(str(src) + suffix)
        if source.exists():
            shutil.copyfile(source, target)


def _world(url: str, tmp_path: Path) -> tuple[str, str]:
    backend = Backend.open(url)
    _, token, _ = backend.add_user("ann@example.com", None, "rep")
    backend.add_user("mo@example.com", None, "marketing")
    backend.upsert_leads([lead_row(n) for n in range(1, 13)])
    backend.close()
    return token, url


def _events_by_lead(url: str) -> dict[str, list[str]]:
    backend = Backend.open(url)
    try:
        out: dict[str, list[str]] = {}
        for e in server_events(backend):
            out.setdefault(e["lead_id"], []).append(e["event_id"])
        return out
    finally:
        backend.close()


def _scenario(url: str, tmp_path: Path, backup, restore) -> None:
    token, _ = _world(url, tmp_path)
    server = ServerProcess(url).start()
    dev = Device(tmp_path / "laptop", server.url, token)
    dev.home.mkdir()
    try:
        assert dev.sync().ok
        ids = sorted(dev.open_ids())
        assert len(ids) == 12
        dev.decide(ids[0:3], "reject", "no_budget")
        assert dev.sync().ok  # three decisions the backup will hold
        server.stop()
        backup()
        server.start()
        dev.decide(ids[3:6], "accept")
        dev.decide([ids[6]], "nurture", "timing_later", note="after the merger")
        assert dev.sync().ok  # four the server will lose
        lost_events = _events_by_lead(url)
        dev.decide(ids[7:9], "reject", "not_icp_fit")  # two made offline, never sent
        server.stop()
        restore()
        backend = Backend.open(url)  # marketing loads more: the counter runs past the cursor
        backend.upsert_leads([lead_row(n) for n in range(20, 60)])
        backend.close()
        server.start()

        report = dev.sync()
        assert report.ok, report.error
        assert report.resent == 4 and report.pending == 0
        decided = ids[0:9]
        per_lead = decisions_per_lead_at(url)
        assert {i: per_lead[i] for i in decided} == dict.fromkeys(decided, 1)
        # what marketing had seen of the four lost decisions comes back under the same ids
        after = _events_by_lead(url)
        for lead_id in ids[3:7]:
            assert after[lead_id] == lost_events[lead_id], lead_id
        # and no id marketing has seen names another decision now: the two made offline
        # were numbered after what the restored server knows, yet their ids are new
        seen = {e: lead for lead, events in lost_events.items() for e in events}
        for lead_id, events in after.items():
            for event_id in events:
                assert seen.setdefault(event_id, lead_id) == lead_id, (event_id, lead_id)
        backend = Backend.open(url)
        try:
            statuses = {i: backend.lead(i)["status"] for i in decided}
            assert [statuses[i] for i in decided] == ["rejected"] * 3 + ["accepted"] * 3 + [
                "nurture", "rejected", "rejected",
            ]  # fmt: skip
            assert backend.lead(ids[6])["decision"]["note"] == "after the merger"
            open_on_server = open_leads_by_rep(backend)["ann@example.com"]
        finally:
            backend.close()
        assert dev.open_ids() == open_on_server  # the 40 new leads too
        assert len(open_on_server) == 3 + 40
        with dev.open() as store:
            cards = store.conflicts()
            assert sorted(c.lead_id for c in cards) == sorted(ids[3:7])
            assert {c.error for c in cards} == {"server_restored"}
        again = dev.sync()  # and nothing more happens
        assert again.ok and again.pushed == 0 and again.resent == 0
        assert decisions_per_lead_at(url) == per_lead
    finally:
        server.stop()


def decisions_per_lead_at(url: str) -> Counter:
    backend = Backend.open(url)
    try:
        return decisions_per_lead(backend)
    finally:
        backend.close()


def test_a_server_restored_by_a_file_copy(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    saved = tmp_path / "saved.db"
    _scenario(
        f"sqlite:///{db}",
        tmp_path,
        backup=lambda: _copy_sqlite(db, saved),
        restore=lambda: _copy_sqlite(saved, db),
    )


def test_a_server_restored_with_triage_server_restore(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    dump = tmp_path / "monday.db"
    _scenario(
        url,
        tmp_path,
        backup=lambda: run_cli("server", "backup", str(dump), "--db", url, check=True),
        restore=lambda: run_cli("server", "restore", str(dump), "--db", url, check=True),
    )


def test_a_postgresql_server_restored_with_pg_dump_and_pg_restore(
    pg_url: str, tmp_path: Path
) -> None:
    dump = tmp_path / "monday.dump"
    _scenario(
        pg_url,
        tmp_path,
        backup=lambda: run_cli("server", "backup", str(dump), "--db", pg_url, check=True),
        restore=lambda: run_cli("server", "restore", str(dump), "--db", pg_url, check=True),
    )
