"""One sync round from a database path and settings: what `triage sync` and the TUI's worker call.

It opens its own Store connection and HTTP client and closes both, so it can run
in a worker thread beside the UI's own connection to the same file.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from triage.config import ConfigError, check_server_url
from triage.store import Store
from triage.sync.client import ApiClient, Deadline
from triage.sync.engine import RetryPolicy, SyncEngine, SyncReport


def run_once(
    db_path: Path | str,
    server_url: str | None,
    token: str | None,
    *,
    insecure: bool = False,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> SyncReport:
    """`timeout`: seconds the whole round may take (None: no deadline; each request still
    has its own timeouts). `on_wait`: told what the sync is waiting for (SyncEngine)."""
    refusal = None
    if not server_url or not token:
        refusal = "not logged in: run `triage login --server URL` (it asks for your token)"
    else:
        try:
            server_url = check_server_url(server_url, insecure)
        except ConfigError as exc:
            refusal = str(exc)
    if refusal is not None:
        store = Store.open(db_path)
        try:
            pending = store.pending_counts()
        finally:
            store.close()
        return SyncReport(
            ok=False,
            pending=pending.total,
            pending_decisions=pending.decisions,
            pending_answers=pending.answers,
            error=refusal,
            auth_failed=True,
        )
    store = Store.open(db_path)  # (makes the queue's directory, private)
    try:
        with _one_sync_at_a_time(db_path, timeout, should_stop, on_wait) as busy:
            if busy is not None:
                pending = store.pending_counts()
                return SyncReport(
                    ok=False, pending=pending.total, pending_decisions=pending.decisions,
                    pending_answers=pending.answers, error=busy,
                )  # fmt: skip
            deadline = None if timeout is None else Deadline(timeout)
            with ApiClient(server_url, token, transport=transport, deadline=deadline) as client:
                return SyncEngine(
                    store, client, retry=retry, should_stop=should_stop, on_wait=on_wait
                ).sync()
    finally:
        store.close()


LOCK_WAIT = 60.0  # seconds a sync waits for another sync of the same queue to end


@contextmanager
def _one_sync_at_a_time(
    db_path: Path | str,
    timeout: float | None,
    should_stop: Callable[[], bool],
    on_wait: Callable[[str], None] | None,
) -> Iterator[str | None]:
    """Hold the queue's sync lock (a flock on <queue>.sync-lock) while one sync runs: the
    TUI's worker and `triage sync` in a terminal take turns, so no sync numbers, renumbers
    (a heal) or answers mutations another has in flight. Yields None once held, or a
    sentence when the other sync did not end in time (or the caller stopped)."""
    path = Path(str(db_path) + ".sync-lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        give_up = time.monotonic() + (LOCK_WAIT if timeout is None else timeout)
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if should_stop() or time.monotonic() >= give_up:
                    yield "another sync of this queue is still running; try again shortly"
                    return
                if on_wait is not None and not said:
                    on_wait("waiting for another sync of this queue to end")
                    said = True
                time.sleep(0.05)
        try:
            yield None
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
