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
from triage.sync.client import ApiClient
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
) -> SyncReport:
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
        with ApiClient(server_url, token, transport=transport) as client:
            return SyncEngine(store, client, retry=retry, should_stop=should_stop).sync()
    finally:
        store.close()
