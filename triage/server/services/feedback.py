"""What marketing reads: the feedback stream and the qualification report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from triage.server import models
from triage.server.db import current_seq
from triage.server.services.common import (
    ServiceError,
    _iso,
)


class FeedbackMixin:
    """The feedback stream (with the history check) and the report."""

    def feedback(self, cursor: int, limit: int, digest: str | None = None) -> dict[str, Any]:
        """Decisions, reopenings and reassignments after `cursor`, in order. A cursor from
        another history (a restore; see pull) answers `reset` and starts from 0: a
        consumer drops the event_ids it has seen."""
        with self.db.read() as s:
            top = current_seq(s)
            here = self._here(s)
            # Nothing lies beyond the counter; and PostgreSQL's INTEGER column cannot
            # even compare with a cursor past 2**31 (a 500 before this clamp).
            reset = self._from_another_history(s, cursor, top, digest)
            cursor = 0 if reset else min(cursor, top)
            rows = s.execute(
                select(models.Event, models.Lead, models.User)
                .join(models.Lead, models.Lead.id == models.Event.lead_id)
                .join(models.User, models.User.id == models.Event.user_id)
                .where(models.Event.seq > cursor)
                .order_by(models.Event.seq)
                .limit(limit + 1)
            ).all()
            has_more = len(rows) > limit
            rows = rows[:limit]
            new_cursor = rows[-1][0].seq if has_more else top
            cursor_digest = self._digest(s, new_cursor)
        events = [
            {
                "cursor": e.seq,
                "lead_id": lead.id,
                "external_id": lead.external_id,
                "kind": e.kind,
                "outcome": e.outcome,
                "reason": e.reason,
                "note": e.note,
                "nurture_until": e.nurture_until.isoformat() if e.nurture_until else None,
                "rep": u.email,
                "campaign": lead.campaign,
                "source": lead.source,
                "at": _iso(e.effective_at),
                "received_at": _iso(e.received_at),
                "event_id": (
                    f"{e.kind}:{e.decision_id}"
                    if e.decision_id
                    else f"{e.kind}:{here['server_id']}:{e.seq}"
                ),
                "decision_id": e.decision_id,
            }
            for e, lead, u in rows
        ]
        return {
            "events": events, "cursor": new_cursor, "has_more": has_more, "reset": reset,
            **here, "cursor_digest": cursor_digest,
        }  # fmt: skip

    def report(self, by: str) -> dict[str, Any]:
        """The qualification report (all time), computed in SQL: triage.server.reports."""
        from triage.server import reports

        with self.db.read() as s:
            conn = s.connection()
            try:
                return reports.qualification(conn, reports.Context.load(conn, self._policy(s)), by)
            except reports.ReportError:
                raise ServiceError(400, "bad_group", "by must be campaign, source or rep") from None
