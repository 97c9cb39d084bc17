"""Segments sales keeps rejecting: a campaign or source crossed with a title, company size,
industry or country, with at least `min_leads` leads decided in the period and at least
`min_rejected` of them rejected; their top rejection reason and a few of the reps' notes;
ranked by leads wasted (rejected). For marketing's review: what to stop sending.

Figures follow the workspace's definitions (triage.server.reports): a lead counts when its
standing decision was made in the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from triage.server import reports
from triage.server.reports import DIMENSIONS, LEAD, Context, Period, ReportError

FIRST = ("campaign", "source")  # what marketing controls
SECOND = ("title", "company_size", "industry", "country")  # who it reached
NOTES = 2  # example notes a segment shows


@dataclass(frozen=True)
class Thresholds:
    min_leads: int = 20
    min_rejected: float = 0.6  # a share of the decided leads
    limit: int = 25

    @classmethod
    def parse(
        cls, min_leads: Any = None, min_rejected: Any = None, limit: Any = None
    ) -> Thresholds:
        """From a query string: `min_rejected` as a percentage (60) or a share (0.6)."""
        try:
            n = int(min_leads) if min_leads not in (None, "") else cls.min_leads
            r = float(min_rejected) if min_rejected not in (None, "") else cls.min_rejected
            k = int(limit) if limit not in (None, "") else cls.limit
        except ValueError:
            raise ReportError(
                "min_leads and limit are whole numbers, min_rejected a percentage"
            ) from None
        r = r / 100 if r > 1 else r
        if n < 1 or not 0 <= r <= 1 or not 1 <= k <= 200:
            raise ReportError("min_leads >= 1, min_rejected 0-100 %, limit 1-200")
        return cls(n, r, k)


def seconds(conn: Connection, by: str | None) -> dict[str, Any]:
    """The second dimensions to cross with: all of SECOND (`by` None), one of them, or an
    attribute `attr:KEY` (reports' crossing: KEY one of the newest leads'). ReportError."""
    if by in (None, "", "all"):
        return {b: (DIMENSIONS[b], None) for b in SECOND}
    if by in SECOND:
        return {by: (DIMENSIONS[by], None)}
    if by.startswith(reports.ATTR):
        return {by: reports._crossing(conn, by)}  # (the value, lead joined with it)
    raise ReportError(f"by: one of {', '.join(SECOND)} or attr:KEY, not {by!r}")


def segments(
    conn: Connection, ctx: Context, p: Period, t: Thresholds = Thresholds(), by: str | None = None
) -> dict[str, Any]:
    found = []
    rejected = LEAD.c.status == "rejected"
    second = seconds(conn, by)
    for a in FIRST:
        for b, (cb, frm) in second.items():
            ca = DIMENSIONS[a]
            q = (
                select(ca, cb, func.count(), reports._count_if(rejected))
                .select_from(frm if frm is not None else LEAD)
                .where(reports.decided_in(p), ca.is_not(None), cb.is_not(None))
                .group_by(ca, cb)
                .having(func.count() >= t.min_leads)
            )
            for va, vb, decided, n_rejected in conn.execute(q):
                if n_rejected and n_rejected >= t.min_rejected * decided:
                    found.append({"first": a, "first_value": va, "second": b,
                                  "second_value": vb, "decided": decided,
                                  "rejected": int(n_rejected)})  # fmt: skip
    found.sort(key=lambda s: (-s["rejected"], -s["rejected"] / s["decided"], s["first"],
                              str(s["first_value"]), s["second"], str(s["second_value"])))  # fmt: skip
    shown = found[: t.limit]
    for s in shown:
        _explain(conn, ctx, p, s, second[s["second"]][0])
    return {
        "period": p.to_dict(),
        "by": by or "all",
        "thresholds": {
            "min_leads": t.min_leads,
            "min_rejected": t.min_rejected,
            "limit": t.limit,
        },  # fmt: skip
        "total": len(found),
        "segments": shown,
    }


def _explain(conn: Connection, ctx: Context, p: Period, s: dict[str, Any], cb: Any) -> None:
    """The segment's rejection rate, its reasons (most first, labelled) and a few notes."""
    if s["second"].startswith(reports.ATTR):  # the leads with that value (no join)
        attr = reports.ATTRIBUTE
        second = LEAD.c.id.in_(
            select(attr.c.lead_id).where(attr.c.key == s["second"][len(reports.ATTR) :],
                                         attr.c.value == s["second_value"])
        )  # fmt: skip
    else:
        second = cb == s["second_value"]
    where = and_(DIMENSIONS[s["first"]] == s["first_value"], second)
    s["rejection_rate"] = round(s["rejected"] / s["decided"], 4)
    counts = reports.reason_counts(conn, p, where=where)
    s["reasons"] = ctx.reasons(counts.get(()))["reject_reasons"]
    q = reports._notes_query(p, outcome="reject", reason=None, text=None, rep=None).where(where)
    rows = conn.execute(q.order_by(LEAD.c.decided_at.desc(), LEAD.c.id).limit(NOTES)).all()
    s["notes"] = [reports._note(ctx, r) for r in rows]
