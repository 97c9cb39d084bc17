"""db.plain_rows, the push's read of its leads: the same values as SQLAlchemy's own result
(times aware UTC, dates, JSON decoded, NULLs), on each engine, with the times converted
once per distinct value."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select, update

from triage.server import models
from triage.server.db import plain_rows
from triage.server.service import Backend

LEAD = models.Lead.__table__


def test_plain_rows_read_what_sqlalchemy_reads(db_url: str) -> None:
    backend = Backend.open(db_url)
    try:
        backend.add_user("rep@example.com", None, "rep")
        backend.upsert_leads(
            [{"external_id": f"e{i}", "name": f"Lead {i}", "email": f"l{i}@c.example",
              "owner": "rep@example.com", "mql_at": f"2026-11-0{1 + i % 3}T08:30:00Z"}
             for i in range(7)]
        )  # fmt: skip
        with backend.db.write() as s:  # a decided lead: JSON, a date, a float, more times
            first = s.execute(select(LEAD.c.id).order_by(LEAD.c.id).limit(1)).scalar_one()
            s.execute(
                update(LEAD)
                .where(LEAD.c.id == first)
                .values(
                    status="nurtured", bant={"budget": "yes"}, nurture_until=date(2027, 1, 2),
                    decision={"outcome": "nurture", "reason": "timing", "by": "rep@example.com"},
                    decided_at=datetime(2026, 11, 20, 9, 15, 1, 250000, tzinfo=timezone.utc),
                    decision_hours=12.25,
                )
            )  # fmt: skip
        stmt = (
            select(*LEAD.columns).where(LEAD.c.id.in_([first, "no-such-lead"])).order_by(LEAD.c.id)
        )
        with backend.db.read() as s:
            expected = [tuple(row) for row in s.execute(select(*LEAD.columns).order_by(LEAD.c.id))]
            got = plain_rows(s, select(*LEAD.columns).order_by(LEAD.c.id))
            one = plain_rows(s, stmt)
            none = plain_rows(s, stmt.where(LEAD.c.id == "no-such-lead"))
        assert got == expected
        assert len(expected) == 7 and one == [expected[0]] and none == []
        decided = dict(zip(LEAD.columns.keys(), one[0], strict=True))
        assert decided["decided_at"] == datetime(
            2026, 11, 20, 9, 15, 1, 250000, tzinfo=timezone.utc
        )
        assert decided["decided_at"].tzinfo is not None and decided["mql_at"].tzinfo is not None
        assert decided["decision"]["reason"] == "timing" and decided["bant"] == {"budget": "yes"}
        assert decided["nurture_until"] == date(2027, 1, 2) and decided["decision_hours"] == 12.25
    finally:
        backend.close()
