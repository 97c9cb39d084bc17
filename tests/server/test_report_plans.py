"""The all-time report reads its indexes in the group's order (SQLite's query plans): the
qualification report by campaign, source or rep counts and takes medians from
ix_lead_all_<dimension> alone, sorting nothing (migration 0015). Checked on the plans of
the statements the report really runs, with their parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.workspace import seed
from triage.server import reports
from triage.server.service import Backend


@pytest.fixture(scope="module", params=["no statistics", "analyzed"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("plans") / "server.db"
    b = Backend.open(f"sqlite:///{path}")
    seed(b, 300, events_per_lead=2.0, days=60)
    if request.param == "analyzed":  # as PRAGMA optimize leaves a database in use
        with b.db.write() as s:
            s.connection().exec_driver_sql("ANALYZE")
    yield b
    b.close()


@pytest.mark.parametrize(("by", "index"), [("campaign", "ix_lead_all_campaign"),
                                           ("source", "ix_lead_all_source"),
                                           ("rep", "ix_lead_all_owner_id")])  # fmt: skip
def test_the_all_time_report_reads_one_index_in_order(backend: Backend, by: str, index: str):
    ran: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "FROM lead" in statement:
            ran.append((statement, parameters))

    with backend.db.read() as s:
        conn = s.connection()
        ctx = reports.Context.load(conn, backend._policy(s))
        event.listen(conn, "before_cursor_execute", record)
        try:
            out = reports.qualification(conn, ctx, by)
        finally:
            event.remove(conn, "before_cursor_execute", record)
        assert out["rows"] and sum(r["mqls"] for r in out["rows"]) == 300
        plans = [
            [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            for sql, params in ran
        ]
    assert len(plans) == 2, plans  # the counts, then the medians
    for plan in plans:
        assert plan == [f"SCAN lead USING COVERING INDEX {index}"], plan
