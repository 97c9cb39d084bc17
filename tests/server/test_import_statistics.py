"""A long import on PostgreSQL refreshes the planner's statistics of the lead table as it
grows (at 5,000 leads made, then 10,000, 20,000...): planned with the statistics of the
empty table it began with, every chunk's lookups read the whole table (a first import of
100,000 rows: 630 sequential scans, 178 s; 12 s with the refresh)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support.backend import opened
from tests.support.factories import lead_row
from triage.server.services import imports

pytestmark = pytest.mark.slow


def _planned_rows(b) -> float:
    """What the planner believes the lead table holds (pg_class.reltuples: -1 or 0 until
    an ANALYZE; ANALYZE sets it at once)."""
    with b.db.read() as s:
        return s.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'lead'::regclass")
        ).scalar_one()


def test_a_long_import_refreshes_the_planners_statistics(pg_url: str) -> None:
    with opened(pg_url) as b:
        b.add_user("ann@example.com", None, "rep")
        assert _planned_rows(b) < 1
        b.import_leads([lead_row(i) for i in range(2 * imports.ANALYZE_FIRST)])
        # analyzed when 5,000 had been made: the planner knows the table is not empty
        assert _planned_rows(b) >= imports.ANALYZE_FIRST
