"""One sync round from a database path and settings: what `triage sync` and the TUI's worker call.

It opens its own Store connection and HTTP client and closes both, so it can run
in a worker thread beside the UI's own connection to the same file.
"""

from __future__ import annotations

from collections.abc import Callable
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
    store = Store.open(db_path)
    try:
        deadline = None if timeout is None else Deadline(timeout)
        with ApiClient(server_url, token, transport=transport, deadline=deadline) as client:
            return SyncEngine(
                store, client, retry=retry, should_stop=should_stop, on_wait=on_wait
            ).sync()
    finally:
        store.close()
