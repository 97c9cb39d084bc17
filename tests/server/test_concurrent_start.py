"""Any number of instances may start at once on an empty database: the schema step runs
under a lock (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite) and the
migrations seed the counter row and the server's identity, so nobody races to create them.

Before the lock, 5 of 9 and 9 of 18 processes on an empty PostgreSQL crashed
(pg_type_typname_nsp_index, a duplicate counter row, "relation already exists").
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("round_", [1, 2, 3])
def test_three_instances_start_at_once_on_an_empty_database(db_url: str, round_: int) -> None:
    servers = [ServerProcess(db_url, quiet=False) for _ in range(3)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready(60)
        ids = set()
        for server in servers:
            assert server.proc is not None and server.proc.poll() is None  # none exited
            health = httpx.get(server.url + "/v1/health", timeout=5).json()
            assert health["status"] == "ok" and health["epoch"] == 1
            ids.add(health["server_id"])
        assert len(ids) == 1  # one database, one identity
    finally:
        for server in servers:
            if server.proc is not None:
                server.stop()
