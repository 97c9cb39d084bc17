"""A rep's device for sync tests: its own TRIAGE_HOME, its own store file, the real server."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from triage.store import Store
from triage.sync.engine import RetryPolicy, SyncReport
from triage.sync.runner import run_once

NO_WAIT = RetryPolicy(attempts=4, base=0.0, sleep=lambda _s: None)


@dataclass
class Device:
    home: Path
    url: str
    token: str
    db: Path | None = None  # the queue's file (default: triage.db in `home`)

    @property
    def db_path(self) -> Path:
        return self.db or self.home / "triage.db"

    def open(self) -> Store:
        return Store.open(self.db_path)

    def sync(
        self, transport: httpx.BaseTransport | None = None, retry: RetryPolicy = NO_WAIT
    ) -> SyncReport:
        return run_once(self.db_path, self.url, self.token, transport=transport, retry=retry)

    def decide(self, ids, outcome: str, reason: str | None = None, note: str | None = None):
        with self.open() as store:
            return store.decide(ids, outcome, reason=reason, note=note)

    def open_ids(self) -> set[str]:
        with self.open() as store:
            return set(store.queue_ids(_everything_open(), "sla"))

    def pending(self) -> int:
        with self.open() as store:
            return store.pending_count()


def _everything_open():
    from triage.domain import Filter

    return Filter()


def device(tmp_path: Path, live, actor, name: str = "laptop") -> Device:
    home = tmp_path / name
    home.mkdir(parents=True, exist_ok=True)
    return Device(home, live.url, actor.token)


def server_events(backend) -> list[dict]:
    """Every decide/reopen event the server recorded, in order."""
    events, cursor = [], 0
    while True:
        page = backend.feedback(cursor, 1000)
        events += page["events"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return events


def decisions_per_lead(backend) -> Counter:
    return Counter(e["lead_id"] for e in server_events(backend) if e["kind"] == "decide")
