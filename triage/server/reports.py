"""Marketing's figures, computed in SQL (SQLAlchemy Core; the same queries on SQLite and
PostgreSQL), as plain dicts and dataclasses. The JSON endpoints, the workspace's pages,
`triage server report` and the review pack all read them here.

Definitions (README, "Marketing's workspace"), the same everywhere:
- A period counts activity in it: the decisions made in it (a lead's standing decision,
  by its time), the MQLs received in it (leads whose `mql_at` is in it), the leads
  assigned in it. Open leads and "open past SLA" are counted as they are now.
- decided = accepted + rejected + nurtured; acceptance rate = accepted / decided.
- Time to decision runs from the deciding rep's latest assignment (the lead's
  `assigned_at`, else its `mql_at`: domain.sla_start) to the first decision made in that
  assignment (a decision undone and made again counts from the first).
- SLA compliance: the share of decisions made within the policy's `sla_hours` (as it is
  now) of that assignment.
- Rejection reasons and nurture reasons are counted apart; a reason is shown by its label,
  and a code no longer in the policy keeps the last label it had.
- Dates are read in the organisation's time zone (the policy's `timezone`, default UTC);
  weeks are ISO weeks from Monday; quarters are calendar quarters.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, FromClause

from triage import domain
from triage.server import models

LEAD = models.Lead.__table__
EVENT = models.Event.__table__
USER = models.User.__table__
POLICY = models.PolicyDoc.__table__
CHANGES = models.ChangeLog.__table__
# Change-log kinds a lead's history shows (decisions come from the event table).
LOGGED = {"import": "imported", "update": "updated by an import", "assign": "assigned",
          "cycle": "new cycle"}  # fmt: skip
LOGGED_DETAIL = {"import": "first imported (created)", "assign": "to another rep",
                 "cycle": "reassigned to the same rep: open again"}  # fmt: skip

OUTCOME_OF_STATUS = {"accepted": "accept", "rejected": "reject", "nurture": "nurture"}
# Dimensions a table may be grouped or crossed by: name -> lead column.
DIMENSIONS = {
    "campaign": LEAD.c.campaign,
    "source": LEAD.c.source,
    "industry": LEAD.c.industry,
    "company_size": LEAD.c.company_size,
    "country": LEAD.c.country,
    "title": LEAD.c.title,
}
PRESETS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "quarter": "This quarter",
}
MAX_DAYS = 3 * 366  # the longest period a report covers
MAX_WEEKS = 160


class ReportError(ValueError):
    """A report asked for with values that cannot be used (a bad date, an unknown
    dimension); the message says what is wrong."""


# ---------------------------------------------------------------- periods


@dataclass(frozen=True, slots=True)
class Period:
    """Days `start` to `end` (both included) in the organisation's time zone."""

    start: date
    end: date
    tz: str
    preset: str | None = None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.tz)

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start, self.zone)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the period."""
        return local_midnight(self.end + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        name = PRESETS.get(self.preset or "")
        span = f"{self.start.isoformat()} to {self.end.isoformat()}"
        return f"{name}: {span}" if name else span

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.tz,
            "preset": self.preset,
        }


def local_midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def today_in(tz: str, now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(zoneinfo.ZoneInfo(tz)).date()


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period(
    tz: str,
    preset: str | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    *,
    now: datetime | None = None,
) -> Period:
    """The period asked for: a preset (7d, 30d, 90d: the days up to today; quarter: this
    calendar quarter up to today), or custom `start` and `end` dates (both included).
    Nothing at all: the last 30 days."""
    today = today_in(tz, now)
    if start or end:
        try:
            first = start if isinstance(start, date) else date.fromisoformat(str(start))
            last = end if isinstance(end, date) else date.fromisoformat(str(end)) if end else today
        except ValueError:
            raise ReportError("start and end are dates like 2026-11-30") from None
        if last < first:
            raise ReportError("the period ends before it starts")
        if (last - first).days + 1 > MAX_DAYS:
            raise ReportError(f"a period is at most {MAX_DAYS} days")
        return Period(first, last, tz, None)
    preset = preset or "30d"
    if preset == "quarter":
        return Period(quarter_start(today), today, tz, preset)
    if preset in ("7d", "30d", "90d"):
        days = int(preset[:-1])
        return Period(today - timedelta(days=days - 1), today, tz, preset)
    raise ReportError(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")


def weeks(p: Period) -> list[tuple[date, datetime]]:
    """The ISO weeks (from Monday) that the period touches: (Monday, its UTC start)."""
    monday = p.start - timedelta(days=p.start.weekday())
    out = []
    while monday <= p.end and len(out) < MAX_WEEKS:
        out.append((monday, local_midnight(monday, p.zone)))
        monday += timedelta(days=7)
    return out


# ---------------------------------------------------------------- SQL pieces


def _utc(dt: datetime) -> datetime:
    """A bound time as the server stores times: UTC (SQLite keeps them as naive text)."""
    return dt.astimezone(timezone.utc)


def _at(value: datetime, name: str) -> Any:
    return bindparam(name, _utc(value), type_=DateTime(timezone=True))


def json_text(column: Any, key: str) -> ColumnElement[Any]:
    return column[key].as_string()


def bucket(column: Any, starts: Sequence[datetime], prefix: str) -> ColumnElement[Any]:
    """The index of the bucket (0-based) whose start is the last one at or before
    `column`: a CASE nested as a binary search, so each row costs log2(buckets)."""

    def node(lo: int, hi: int) -> Any:  # buckets lo..hi-1
        if hi - lo == 1:
            return literal(lo)
        mid = (lo + hi) // 2
        return case(
            (column < _at(starts[mid], f"{prefix}{mid}"), node(lo, mid)), else_=node(mid, hi)
        )

    return node(0, len(starts))


def _within(column: Any, p: Period | None) -> ColumnElement[bool]:
    if p is None:
        return column.is_not(None)
    return and_(column >= _at(p.start_utc, "p_start"), column < _at(p.end_utc, "p_end"))


def decided_in(p: Period | None) -> ColumnElement[bool]:
    """A lead's standing decision made in the period (None: ever). `decided_at` is set
    exactly while a lead is decided (a reopening or a new cycle clears it), so the range
    on its index alone selects them."""
    return _within(LEAD.c.decided_at, p)


def received_in(p: Period | None) -> ColumnElement[bool]:
    return _within(LEAD.c.mql_at, p) if p is not None else LEAD.c.id.is_not(None)


def assigned_in(p: Period | None) -> ColumnElement[bool]:
    return _within(LEAD.c.assigned_at, p)


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    """One row of figures: for the whole period, a campaign, a rep, a week..."""

    received: int = 0
    decided: int = 0
    accepted: int = 0
    rejected: int = 0
    nurtured: int = 0
    within_sla: int = 0
    timed: int = 0  # decisions with a time to decision (all, unless a lead had no times)
    median_hours: float | None = None
    open: int = 0
    open_past_sla: int = 0
    assigned: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def sla_compliance(self) -> float | None:
        return self.within_sla / self.timed if self.timed else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mqls_received": self.received,
            "decided": self.decided,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "nurtured": self.nurtured,
            "acceptance_rate": _rate(self.acceptance_rate),
            "median_hours_to_decision": _hours(self.median_hours),
            "sla_compliance": _rate(self.sla_compliance),
            "decided_within_sla": self.within_sla,
            "open": self.open,
            "open_past_sla": self.open_past_sla,
            "assigned": self.assigned,
        }


def _rate(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _hours(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)


def decision_figures(
    conn: Connection,
    p: Period | None,
    sla_hours: float,
    group: Sequence[ColumnElement[Any]] = (),
    *,
    where: ColumnElement[bool] | None = None,
    timed: bool = True,
    frm: FromClause | None = None,
) -> dict[tuple[Any, ...], Figures]:
    """Decisions made in the period, by `group` (lead columns or expressions): counts by
    outcome and, when `timed`, the median time to decision and the decisions within the
    SLA (each lead's `decision_hours`: from assignment to the first decision). `frm`: the
    lead table joined with what `group` reads besides (an attribute: crossing)."""
    keys = [g.label(f"g{i}") for i, g in enumerate(group)]
    ttd = LEAD.c.decision_hours
    times = (_count_if(ttd <= sla_hours), func.count(ttd), median(conn.dialect.name, ttd))
    q = select(
        *keys, func.count(), _count_if(LEAD.c.status == "accepted"),
        _count_if(LEAD.c.status == "rejected"), _count_if(LEAD.c.status == "nurture"),
        *(times if timed else ()),
    ).where(decided_in(p))  # fmt: skip
    if where is not None:
        q = q.where(where)
    if frm is not None:
        q = q.select_from(frm)
    if keys:
        q = q.group_by(*group)
    out = {}
    for row in conn.execute(q):
        k = tuple(row[: len(keys)])
        decided, acc, rej, nur, *timing = row[len(keys) :]
        if not decided:
            continue
        f = Figures(decided=decided, accepted=acc or 0, rejected=rej or 0, nurtured=nur or 0)
        if timing:
            within, timed_n, middle = timing
            f.within_sla, f.timed = within or 0, timed_n or 0
            f.median_hours = None if middle is None else max(0.0, float(middle))
        out[k] = f
    return out


def _count_if(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


def median(dialect: str, value: Any) -> ColumnElement[Any]:
    """The median of `value` over a group (NULLs left out; the mean of the two middle
    values of an even count), as an aggregate: PostgreSQL's percentile_cont(0.5), and on
    SQLite, which has none, the `median` that triage.server.db adds to each connection."""
    if dialect == "sqlite":
        return func.median(value)
    return func.percentile_cont(0.5).within_group(cast(value, Float))


def _counts(conn: Connection, q: Any, ngroup: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {tuple(r[:ngroup]): tuple(r[ngroup:]) for r in conn.execute(q)}


def received_counts(
    conn: Connection,
    p: Period | None,
    group: Sequence[ColumnElement[Any]] = (),
    *,
    where: ColumnElement[bool] | None = None,
    frm: FromClause | None = None,
) -> dict[tuple[Any, ...], int]:
    q = select(*group, func.count()).where(received_in(p))
    if where is not None:
        q = q.where(where)
    if frm is not None:
        q = q.select_from(frm)
    if group:
        q = q.group_by(*group)
    return {k: v[0] for k, v in _counts(conn, q, len(group)).items() if v[0]}


def open_counts(
    conn: Connection,
    sla_hours: float,
    now: datetime,
    group: Sequence[ColumnElement[Any]] = (),
    *,
    where: ColumnElement[bool] | None = None,
    frm: FromClause | None = None,
) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Open leads now, and those of them past the SLA: (open, past SLA)."""
    cutoff = _at(now - timedelta(hours=sla_hours), "sla_cutoff")
    past = or_(
        LEAD.c.assigned_at < cutoff,
        and_(LEAD.c.assigned_at.is_(None), LEAD.c.mql_at < cutoff),
    )
    q = select(*group, func.count(), func.sum(case((past, 1), else_=0))).where(
        LEAD.c.status == "open"
    )
    if where is not None:
        q = q.where(where)
    if frm is not None:
        q = q.select_from(frm)
    if group:
        q = q.group_by(*group)
    return {k: (v[0], v[1] or 0) for k, v in _counts(conn, q, len(group)).items() if v[0]}


def assigned_counts(
    conn: Connection, p: Period, group: Sequence[ColumnElement[Any]] = ()
) -> dict[tuple[Any, ...], int]:
    q = select(*group, func.count()).where(assigned_in(p), LEAD.c.owner_id.is_not(None))
    if group:
        q = q.group_by(*group)
    return {k: v[0] for k, v in _counts(conn, q, len(group)).items() if v[0]}


def reason_counts(
    conn: Connection,
    p: Period | None,
    group: Sequence[ColumnElement[Any]] = (),
    *,
    where: ColumnElement[bool] | None = None,
    frm: FromClause | None = None,
) -> dict[tuple[Any, ...], dict[str, dict[str, int]]]:
    """Decisions in the period by reason, rejection and nurture apart:
    {group: {"reject": {code: n}, "nurture": {code: n}}}."""
    reason = LEAD.c.decision_reason
    q = select(*group, LEAD.c.status, reason, func.count()).where(
        decided_in(p), LEAD.c.status.in_(("rejected", "nurture"))
    )
    if where is not None:
        q = q.where(where)
    if frm is not None:
        q = q.select_from(frm)
    q = q.group_by(*group, LEAD.c.status, reason)
    out: dict[tuple[Any, ...], dict[str, dict[str, int]]] = {}
    for row in conn.execute(q):
        k = tuple(row[: len(group)])
        status, code, n = row[len(group) :]
        side = "reject" if status == "rejected" else "nurture"
        slot = out.setdefault(k, {"reject": {}, "nurture": {}})[side]
        slot[code or ""] = slot.get(code or "", 0) + n
    return out


# ---------------------------------------------------------------- labels


def reason_labels(conn: Connection, current: domain.Policy) -> dict[str, dict[str, str]]:
    """Every reason code's label, for rejection and nurture apart: the current policy's,
    and for a code it no longer has, the label of the newest version that had it."""
    labels: dict[str, dict[str, str]] = {"reject": {}, "nurture": {}}
    for r in current.reject_reasons:
        labels["reject"][r.code] = r.label
    for r in current.nurture_reasons:
        labels["nurture"][r.code] = r.label
    rows = conn.execute(select(POLICY.c.body).order_by(POLICY.c.version.desc())).scalars()
    for body in [*rows, domain.DEFAULT_POLICY.to_dict()]:
        for side, key in (("reject", "reject_reasons"), ("nurture", "nurture_reasons")):
            for r in body.get(key) or []:
                if isinstance(r, dict) and r.get("code"):
                    labels[side].setdefault(str(r["code"]), str(r.get("label") or r["code"]))
    return labels


def labelled(counts: dict[str, int], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Reason counts as [{code, label, count}], most first."""
    return [
        {"code": code or None, "label": labels.get(code, code or "(no reason)"), "count": n}
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


# ---------------------------------------------------------------- what each page shows


DEFINITIONS = {
    "period": "A period counts activity in it: decisions made in it, MQLs received in it "
    "(mql_at), leads assigned in it. Open leads are counted as they are now.",
    "decided": "decided = accepted + rejected + nurtured (a lead's standing decision).",
    "acceptance_rate": "acceptance rate = accepted / decided.",
    "time_to_decision": "Time to decision runs from the deciding rep's latest assignment "
    "(else the MQL time) to the first decision in that assignment; the median is shown.",
    "sla_compliance": "SLA compliance = the share of decisions made within the policy's "
    "sla_hours of assignment.",
    "open_past_sla": "Open past SLA: open leads now whose SLA clock (from assignment, else "
    "from the MQL time) has run longer than sla_hours.",
    "reasons": "Rejection reasons and nurture reasons are counted apart, each shown by its "
    "label (a retired code keeps its last label).",
    "dates": "Dates are in the organisation's time zone (the policy's timezone); weeks are "
    "ISO weeks from Monday; quarters are calendar quarters.",
}


@dataclass(frozen=True)
class Context:
    """What every report reads besides its period: the policy as it is now, the reason
    labels of every version, and the time 'now' (for open past SLA and nurture dates)."""

    policy: domain.Policy
    labels: dict[str, dict[str, str]]
    now: datetime

    @classmethod
    def load(cls, conn: Connection, policy: domain.Policy, now: datetime | None = None) -> Context:
        return cls(policy, reason_labels(conn, policy), now or datetime.now(timezone.utc))

    @property
    def tz(self) -> str:
        return self.policy.timezone

    @property
    def sla_hours(self) -> float:
        return self.policy.sla_hours

    def period(self, preset: str | None = None, start: Any = None, end: Any = None) -> Period:
        return period(self.tz, preset, start, end, now=self.now)

    def reasons(self, counts: dict[str, dict[str, int]] | None) -> dict[str, Any]:
        counts = counts or {"reject": {}, "nurture": {}}
        return {
            "reject_reasons": labelled(counts["reject"], self.labels["reject"]),
            "nurture_reasons": labelled(counts["nurture"], self.labels["nurture"]),
        }


def overview(conn: Connection, ctx: Context, p: Period) -> dict[str, Any]:
    fig = decision_figures(conn, p, ctx.sla_hours).get((), Figures())
    fig.received = received_counts(conn, p).get((), 0)
    fig.open, fig.open_past_sla = open_counts(conn, ctx.sla_hours, ctx.now).get((), (0, 0))
    fig.assigned = assigned_counts(conn, p).get((), 0)
    return {
        "period": p.to_dict(),
        "sla_hours": ctx.sla_hours,
        "figures": fig.to_dict(),
        **ctx.reasons(reason_counts(conn, p).get(())),
        "definitions": DEFINITIONS,
    }


def trend(conn: Connection, ctx: Context, p: Period) -> dict[str, Any]:
    """Week by week (ISO weeks from Monday, in the organisation's time zone): MQLs
    received and decisions made in the part of each week inside the period."""
    ws = weeks(p)
    starts = [start for _, start in ws]
    dec = decision_figures(
        conn, p, ctx.sla_hours, [bucket(LEAD.c.decided_at, starts, "wd")], timed=False
    )
    rec = received_counts(conn, p, [bucket(LEAD.c.mql_at, starts, "wm")])
    rows = []
    for i, (monday, _) in enumerate(ws):
        f = dec.get((i,), Figures())
        f.received = rec.get((i,), 0)
        iso = monday.isocalendar()
        rows.append(
            {
                "week": f"{iso.year}-W{iso.week:02d}",
                "monday": monday.isoformat(),
                "mqls_received": f.received,
                "decided": f.decided,
                "accepted": f.accepted,
                "rejected": f.rejected,
                "nurtured": f.nurtured,
                "acceptance_rate": _rate(f.acceptance_rate),
            }
        )
    return {"period": p.to_dict(), "weeks": rows}


def _dimension(name: str | None, *, allow_rep: bool = False) -> ColumnElement[Any] | None:
    if name in (None, "", "none"):
        return None
    if name in DIMENSIONS:
        return DIMENSIONS[name]
    if allow_rep and name == "rep":
        return LEAD.c.owner_id
    known = ", ".join([*DIMENSIONS, *(["rep"] if allow_rep else [])])
    raise ReportError(f"unknown dimension {name!r} (known: {known})")


# A crossing by one of the leads' attributes (marketing's columns no map placed): `attr:KEY`.
ATTR = "attr:"
# The attribute keys offered and accepted are those of the leads changed last (newest
# `seq` first, read along its index): a bounded read whatever the table's size, written
# by no import. A key only older leads have is neither offered nor accepted.
ATTRIBUTE_SAMPLE = 2000


def attribute_keys(conn: Connection) -> list[str]:
    """The attribute keys of the ATTRIBUTE_SAMPLE leads changed last, sorted."""
    q = select(LEAD.c.attributes).order_by(LEAD.c.seq.desc()).limit(ATTRIBUTE_SAMPLE)
    found: set[str] = set()
    for (attrs,) in conn.execute(q):
        if attrs:
            found.update(attrs)
    return sorted(found)


ATTRIBUTE = models.LeadAttribute.__table__


def attribute_join(key: str) -> tuple[ColumnElement[Any], FromClause]:
    """A lead's attribute `key` (its text, as the crossing shows it: text as it is, numbers
    as the JSON writes them, true/false; NULL when the lead has none) and the lead table
    joined with the narrow table that holds it (models.LeadAttribute), by lead id: the
    report indexes end with the id, so no pass reads a lead row. The key is bound."""
    attr = ATTRIBUTE.alias("attr")
    on = and_(attr.c.lead_id == LEAD.c.id, attr.c.key == bindparam("attr_key", key, String))
    return attr.c.value, LEAD.outerjoin(attr, on)


def _crossing(
    conn: Connection, name: str | None, keys: list[str] | None = None
) -> tuple[ColumnElement[Any] | None, FromClause | None]:
    """A dimension (_dimension), or `attr:KEY`, KEY one of `keys` (attribute_keys), with
    the join that reads it (attribute_join)."""
    if not (name or "").startswith(ATTR):
        return _dimension(name), None
    key = (name or "")[len(ATTR) :]
    keys = attribute_keys(conn) if keys is None else keys
    if key not in keys:
        known = ", ".join(keys[:40]) or "none"
        raise ReportError(
            f"unknown attribute {key!r} (the attributes of the newest leads: {known})"
        )
    return attribute_join(key)


def _filters(**values: Any) -> ColumnElement[bool] | None:
    conds = []
    for name, value in values.items():
        if value is None:
            continue
        col = _dimension(name)
        assert col is not None
        conds.append(col.is_(None) if value == "" else col == value)
    return and_(*conds) if conds else None


def breakdown(
    conn: Connection,
    ctx: Context,
    p: Period,
    by: str = "campaign",
    cross: str | None = None,
    *,
    attribute_keys: list[str] | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """A row per campaign (or source, or any dimension), crossed with a second dimension
    (or an attribute, `attr:KEY`; `attribute_keys` the keys known, when already read) when
    asked: MQLs received, outcomes, acceptance rate, time to decision, SLA compliance,
    open now and past SLA, rejection and nurture reasons by label."""
    first = _dimension(by)
    if first is None:
        raise ReportError("by must name a dimension")
    second, frm = _crossing(conn, cross, attribute_keys)
    if cross == by:
        second = None
    group = [first] + ([second] if second is not None else [])
    where = _filters(**filters)
    dec = decision_figures(conn, p, ctx.sla_hours, group, where=where, frm=frm)
    rec = received_counts(conn, p, group, where=where, frm=frm)
    opn = open_counts(conn, ctx.sla_hours, ctx.now, group, where=where, frm=frm)
    rsn = reason_counts(conn, p, group, where=where, frm=frm)
    keys = set(dec) | set(rec) | set(opn)
    rows = []
    for k in sorted(keys, key=lambda k: tuple((v is None, str(v or "")) for v in k)):
        f = dec.get(k, Figures())
        f.received = rec.get(k, 0)
        f.open, f.open_past_sla = opn.get(k, (0, 0))
        row = {"key": k[0]}
        if second is not None:
            row["cross"] = k[1]
        row.update(f.to_dict())
        del row["assigned"]
        row.update(ctx.reasons(rsn.get(k)))
        rows.append(row)
    return {
        "period": p.to_dict(),
        "by": by,
        "cross": cross if second is not None else None,
        "rows": rows,
        "reason_codes": _codes(ctx, rows),
    }


def _codes(ctx: Context, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """The reasons that the rows use, in the policy's order then retired ones: the columns
    of a CSV (one column per reason)."""
    out: dict[str, list[dict[str, str]]] = {}
    for side, current in (
        ("reject", ctx.policy.reject_reasons),
        ("nurture", ctx.policy.nurture_reasons),
    ):
        used = {r["code"] for row in rows for r in row[f"{side}_reasons"]}
        order = [r.code for r in current if r.code in used]
        order += sorted(c for c in used if c not in order and c is not None)
        if None in used:
            order.append(None)  # type: ignore[arg-type]
        out[side] = [
            {"code": c, "label": ctx.labels[side].get(c, c or "(no reason)")} for c in order
        ]
    return out


ReasonColumn = tuple[str, str | None, str]  # (side, code, header) of a CSV's reason column
_SIDE_WORD = {"reject": "rejected", "nurture": "nurtured"}


def reason_column(side: str, code: str | None, label: str) -> ReasonColumn:
    """A CSV column for one reason: `rejected: No budget (no_budget)`."""
    return side, code, f"{_SIDE_WORD[side]}: {label} ({code or '-'})"


def reason_cells(row: dict[str, Any], columns: list[ReasonColumn]) -> list[int]:
    """A row's count for each reason column (0 where the row has none)."""
    counts = {(side, x["code"]): x["count"] for side in _SIDE_WORD
              for x in row.get(f"{side}_reasons") or []}  # fmt: skip
    return [counts.get((side, code), 0) for side, code, _ in columns]


def reasons(
    conn: Connection, ctx: Context, p: Period, by: str = "campaign", **filters: str | None
) -> dict[str, Any]:
    """Rejection reasons and, apart from them, nurture reasons: in total, week by week,
    and by campaign (or source)."""
    where = _filters(**filters)
    ws = weeks(p)
    col = _dimension(by)
    assert col is not None
    # One pass by (week, group, reason); the totals, weeks and groups are summed from it.
    fine = reason_counts(
        conn, p, [bucket(LEAD.c.decided_at, [s for _, s in ws], "wr"), col], where=where
    )
    total = _roll_up(fine, lambda k: ()).get(())
    weekly = _roll_up(fine, lambda k: (k[0],))
    grouped = _roll_up(fine, lambda k: (k[1],))
    week_rows = []
    for i, (monday, _) in enumerate(ws):
        iso = monday.isocalendar()
        week_rows.append(
            {"week": f"{iso.year}-W{iso.week:02d}", "monday": monday.isoformat(),
             **ctx.reasons(weekly.get((i,)))}
        )  # fmt: skip
    group_rows = [
        {"key": k[0], **ctx.reasons(v)}
        for k, v in sorted(grouped.items(), key=lambda kv: (kv[0][0] is None, str(kv[0][0] or "")))
    ]
    rows_for_codes = [*group_rows, {**ctx.reasons(total)}]
    return {
        "period": p.to_dict(),
        "by": by,
        **ctx.reasons(total),
        "weeks": week_rows,
        "groups": group_rows,
        "reason_codes": _codes(ctx, rows_for_codes),
    }


def review_pack(conn: Connection, ctx: Context, p: Period) -> dict[str, Any]:
    """The overview, the weekly trend and the campaigns of one period (what the printed
    page shows); sources and reps have their own endpoints."""
    return {
        "overview": overview(conn, ctx, p),
        "trend": trend(conn, ctx, p),
        "campaigns": breakdown(conn, ctx, p, "campaign"),
    }


def _roll_up(
    counts: dict[tuple[Any, ...], dict[str, dict[str, int]]], key: Any
) -> dict[tuple[Any, ...], dict[str, dict[str, int]]]:
    out: dict[tuple[Any, ...], dict[str, dict[str, int]]] = {}
    for k, sides in counts.items():
        slot = out.setdefault(key(k), {"reject": {}, "nurture": {}})
        for side, codes in sides.items():
            for code, n in codes.items():
                slot[side][code] = slot[side].get(code, 0) + n
    return out


def notes(
    conn: Connection,
    ctx: Context,
    p: Period,
    *,
    outcome: str | None = None,
    reason: str | None = None,
    text: str | None = None,
    rep: str | None = None,
    limit: int = 100,
    offset: int = 0,
    **filters: str | None,
) -> dict[str, Any]:
    """The reps' notes on the decisions made in the period, newest first, whole."""
    q = _notes_query(p, outcome=outcome, reason=reason, text=text, rep=rep, **filters)
    total = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = conn.execute(
        q.order_by(LEAD.c.decided_at.desc(), LEAD.c.id).limit(limit).offset(offset)
    ).all()
    return {"period": p.to_dict(), "total": total, "notes": [_note(ctx, r) for r in rows]}


def _notes_query(
    p: Period,
    *,
    outcome: str | None,
    reason: str | None,
    text: str | None,
    rep: str | None,
    **filters: str | None,
) -> Any:
    """The decisions in the period with a note, narrowed by the lead filters, the
    outcome, the reason, the rep and words in the note."""
    note = json_text(LEAD.c.decision, "note")
    reason_col = LEAD.c.decision_reason
    q = (
        select(
            LEAD.c.id,
            LEAD.c.external_id,
            LEAD.c.name,
            LEAD.c.company,
            LEAD.c.campaign,
            LEAD.c.source,
            LEAD.c.status,
            reason_col.label("reason"),
            note.label("note"),
            LEAD.c.decided_at,
            USER.c.email,
        )  # fmt: skip
        .select_from(LEAD.outerjoin(USER, USER.c.id == LEAD.c.owner_id))
        .where(decided_in(p), note.is_not(None), note != "")
    )
    where = _filters(**filters)
    if where is not None:
        q = q.where(where)
    if outcome:
        q = q.where(LEAD.c.status == _status(outcome, "outcome must be accept, reject or nurture"))
    if reason:
        q = q.where(reason_col == reason)
    if rep:
        q = q.where(USER.c.email == rep.strip().lower())
    if text:
        q = q.where(note.ilike(f"%{_like(text)}%", escape="!"))
    return q


def _note(ctx: Context, r: Any) -> dict[str, Any]:
    """One note as the notes page and endpoint give it, with its lead and reason label."""
    side = "reject" if r.status == "rejected" else "nurture"
    return {
        "lead_id": r.id, "external_id": r.external_id, "name": r.name,
        "company": r.company, "campaign": r.campaign, "source": r.source,
        "outcome": OUTCOME_OF_STATUS[r.status], "reason": r.reason,
        "reason_label": ctx.labels.get(side, {}).get(r.reason, r.reason)
        if r.reason else None,
        "note": r.note, "at": domain.format_time(_aware(r.decided_at)), "rep": r.email,
    }  # fmt: skip


def _status(outcome: str, problem: str) -> str:
    """The status a decision's outcome leaves a lead in; ReportError(problem) if none."""
    try:
        return domain.Outcome(outcome).status.value
    except ValueError:
        raise ReportError(problem) from None


def _day(value: Any) -> str:
    """A date as YYYY-MM-DD (SQLite may hand back the stored text)."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def reps(conn: Connection, ctx: Context, p: Period) -> dict[str, Any]:
    """A row per rep: assigned in the period, decided, outcomes, median time to decision,
    SLA compliance, open now and past SLA."""
    col = [LEAD.c.owner_id]
    dec = decision_figures(conn, p, ctx.sla_hours, col)
    opn = open_counts(conn, ctx.sla_hours, ctx.now, col)
    asg = assigned_counts(conn, p, col)
    users = {
        r.id: r
        for r in conn.execute(
            select(USER.c.id, USER.c.email, USER.c.name, USER.c.active, USER.c.role)
        )
    }
    ids = {k[0] for k in (*dec, *opn, *asg)} | {
        u.id for u in users.values() if u.role == domain.Role.REP and u.active
    }
    rows = []
    for uid in ids:
        if uid is None:
            continue
        f = dec.get((uid,), Figures())
        f.open, f.open_past_sla = opn.get((uid,), (0, 0))
        f.assigned = asg.get((uid,), 0)
        u = users.get(uid)
        row = {
            "rep": u.email if u else str(uid),
            "name": u.name if u else None,
            "active": bool(u.active) if u else False,
            **f.to_dict(),
        }
        del row["mqls_received"]
        rows.append(row)
    rows.sort(key=lambda r: r["rep"])
    return {"period": p.to_dict(), "sla_hours": ctx.sla_hours, "rows": rows}


def nurture_due(
    conn: Connection, ctx: Context, days: int = 30, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """Nurtured leads whose re-entry date has passed or comes within `days` days (from
    today in the organisation's time zone), soonest first."""
    today = today_in(ctx.tz, ctx.now)
    horizon = today + timedelta(days=days)
    until = LEAD.c.nurture_until
    reason = LEAD.c.decision_reason
    due = and_(LEAD.c.status == "nurture", until.is_not(None), until <= horizon)
    q = (
        select(
            LEAD.c.id,
            LEAD.c.external_id,
            LEAD.c.name,
            LEAD.c.email,
            LEAD.c.company,
            LEAD.c.title,
            LEAD.c.campaign,
            LEAD.c.source,
            until.label("until"),
            reason.label("reason"),
            LEAD.c.decided_at,
            USER.c.email.label("rep"),
        )  # fmt: skip
        .select_from(LEAD.outerjoin(USER, USER.c.id == LEAD.c.owner_id))
        .where(due)
        .order_by(until, LEAD.c.id)
    )
    total = conn.execute(select(func.count()).where(due)).scalar_one()  # ix_lead_nurture_until
    q = q.limit(limit).offset(offset)
    rows = []
    for r in conn.execute(q):
        rows.append(
            {
                "lead_id": r.id, "external_id": r.external_id, "name": r.name,
                "email": r.email, "company": r.company, "title": r.title,
                "campaign": r.campaign, "source": r.source,
                "nurture_until": _day(r.until), "passed": _day(r.until) < today.isoformat(),
                "reason": r.reason,
                "reason_label": ctx.labels["nurture"].get(r.reason, r.reason),
                "decided_at": domain.format_time(_aware(r.decided_at)), "rep": r.rep,
            }
        )  # fmt: skip
    return {"today": today.isoformat(), "days": days, "until": horizon.isoformat(),
            "total": total, "rows": rows}  # fmt: skip


LEAD_LIST_COLUMNS = (
    "id", "external_id", "name", "email", "company", "title", "campaign", "source",
    "industry", "company_size", "country", "score", "status", "mql_at", "decided_at",
)  # fmt: skip


SEARCH_COUNT_CAP = 10_000


def _counted(conn: Connection, query: Any, searched: bool) -> tuple[int, bool]:
    """(the leads `query` counts, whether there are more than that). A search's matches are
    counted up to SEARCH_COUNT_CAP only: a common word matches a tenth of a million leads,
    and counting them all read them all (3.5 s at 1,000,000 leads on PostgreSQL; 0.14 s
    capped)."""
    if not searched:
        return conn.execute(query).scalar_one(), False
    capped = query.with_only_columns(LEAD.c.id).limit(SEARCH_COUNT_CAP + 1).subquery()
    total = conn.execute(select(func.count()).select_from(capped)).scalar_one()
    return min(total, SEARCH_COUNT_CAP), total > SEARCH_COUNT_CAP


def leads(
    conn: Connection,
    ctx: Context,
    *,
    q: str | None = None,
    p: Period | None = None,
    outcome: str | None = None,
    limit: int = 100,
    offset: int = 0,
    **filters: str | None,
) -> dict[str, Any]:
    """Leads by search (name, email, company or external id, any part, any case) and
    filters (a dimension's value; with a period and outcome: the leads decided so in it)."""
    # The conditions are built on a bare count, so that counting reads no JSON and joins
    # nothing (an index alone can answer it); the page of rows adds the columns after.
    query = select(func.count()).select_from(LEAD)
    if q and q.strip():
        pattern = f"%{_like(q.strip())}%"
        # SQLite's LIKE ignores ASCII case already (and its lower() folds no more than
        # that): ILIKE's lower() on both sides only doubled the time of the scan.
        sqlite = conn.dialect.name == "sqlite"
        query = query.where(
            or_(
                *(LEAD.c[c].like(pattern, escape="!") if sqlite else
                  LEAD.c[c].ilike(pattern, escape="!")
                  for c in ("name", "email", "company", "external_id")),
                LEAD.c.id == q.strip(),
            )
        )  # fmt: skip
    where = _filters(**filters)
    if where is not None:
        query = query.where(where)
    if outcome == "open":
        query = query.where(LEAD.c.status == "open")
    elif outcome:
        query = query.where(decided_in(p))
        if outcome != "decided":
            problem = "outcome must be open, decided, accept, reject or nurture"
            query = query.where(LEAD.c.status == _status(outcome, problem))
    elif p is not None:
        query = query.where(received_in(p))
    total, more = _counted(conn, query, bool(q and q.strip()))
    order = LEAD.c.decided_at.desc() if outcome and outcome != "open" else LEAD.c.mql_at.desc()
    page = query.with_only_columns(
        *(LEAD.c[c] for c in LEAD_LIST_COLUMNS),
        LEAD.c.decision_reason.label("reason"),
        USER.c.email.label("owner"),
    ).select_from(LEAD.outerjoin(USER, USER.c.id == LEAD.c.owner_id))
    rows = conn.execute(page.order_by(order, LEAD.c.id).limit(limit).offset(offset)).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        for k in ("mql_at", "decided_at"):
            d[k] = domain.format_time(_aware(d[k]))
        side = {"rejected": "reject", "nurture": "nurture"}.get(d["status"])
        d["reason_label"] = ctx.labels[side].get(d["reason"], d["reason"]) if side else None
        out.append(d)
    # total_is_more: a search's count stopped at the cap ("more than total")
    period = p.to_dict() if p else None
    return {"total": total, "total_is_more": more, "leads": out, "period": period}


def lead_history(conn: Connection, ctx: Context, ref: str) -> dict[str, Any] | None:
    """A lead and its whole history, oldest first: received (imported), assigned, each
    decision with its note, each reopening and reassignment, the earlier cycles."""
    lead = _lead_with_owner(conn, ref)
    if lead is None:
        return None
    # The change log (kept 90 days by default) says when imports and assignments touched it.
    log = conn.execute(
        select(CHANGES.c.at, CHANGES.c.kind)
        .where(CHANGES.c.lead_id == lead["id"], CHANGES.c.kind.in_(LOGGED))
        .order_by(CHANGES.c.seq)
    ).all()
    timeline = [
        *_received_entries(lead, log),
        *_logged_entries(lead, log),
        *_earlier_cycle_entries(ctx, lead["history"] or []),
        *_event_entries(conn, ctx, lead["id"]),
        *_history_entries(ctx, lead),
    ]
    if lead["assigned_at"] is not None and not any(k == "assign" for _, k in log):
        timeline.append(_entry(lead["assigned_at"], "assigned", to=lead["owner_email"]))
    timeline.sort(key=lambda t: t["at"] or "")  # stable: ties keep the order above
    return {"lead": _lead_wire(ctx, lead), "timeline": timeline}


def _lead_with_owner(conn: Connection, ref: str) -> dict[str, Any] | None:
    """The lead by its id or external_id, with its owner's email as owner_email."""
    row = conn.execute(
        select(LEAD, USER.c.email.label("owner_email"))
        .select_from(LEAD.outerjoin(USER, USER.c.id == LEAD.c.owner_id))
        .where(or_(LEAD.c.id == ref, LEAD.c.external_id == ref))
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping)


def _entry(at: Any, kind: str, **info: Any) -> dict[str, Any]:
    """One line of a lead's timeline; `at` a datetime or the stored ISO text."""
    when = _aware(domain.parse_time(at)) if isinstance(at, str) else _aware(at)
    return {"at": domain.format_time(when), "kind": kind, **info}


def _reason_label(ctx: Context, outcome: str | None, reason: str | None) -> str | None:
    """The label of a reject or nurture reason (None for an accept or no reason)."""
    side = {"reject": "reject", "nurture": "nurture"}.get(outcome or "")
    return ctx.labels[side].get(reason, reason) if side and reason else None


def _received_entries(lead: dict[str, Any], log: Sequence[Any]) -> list[dict[str, Any]]:
    """When it became an MQL, and when it was created if the change log no longer says."""
    out = []
    if lead["mql_at"] is not None:
        out.append(_entry(lead["mql_at"], "mql", detail="became an MQL"))
    if not any(k == "import" for _, k in log):
        out.append(_entry(lead["created_at"], "imported", detail="first imported (created)"))
    return out


def _logged_entries(lead: dict[str, Any], log: Sequence[Any]) -> list[dict[str, Any]]:
    """The change log's imports, updates, assignments and new cycles; the latest
    assignment names the owner."""
    assigns = [at for at, k in log if k == "assign"]
    out = []
    for at, kind in log:
        if kind == "assign" and at == assigns[-1] and lead["owner_email"]:
            out.append(_entry(at, "assigned", to=lead["owner_email"]))
        else:
            out.append(_entry(at, LOGGED[kind], detail=LOGGED_DETAIL.get(kind)))
    return out


def _earlier_cycle_entries(ctx: Context, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decisions of the lead's earlier cycles, and the reassignments that ended them."""
    out = []
    for h in history:
        if h.get("outcome"):
            out.append(_entry(
                h.get("decided_at") or h.get("at"), "decision (earlier cycle)",
                outcome=h["outcome"], reason=h.get("reason"),
                reason_label=_reason_label(ctx, h["outcome"], h.get("reason")),
                note=h.get("note"), by=h.get("by") or h.get("owner"),
            ))  # fmt: skip
        if h.get("ended_at"):
            out.append(_entry(
                h["ended_at"], "reassigned (new cycle)", by=h.get("ended_by"),
                to=h.get("reassigned_to"),
            ))  # fmt: skip
    return out


def _history_entries(ctx: Context, lead: dict[str, Any]) -> list[dict[str, Any]]:
    """A past decision imported from the CRM's history (`triage server import --history`):
    no rep's event says it, so the lead's decision does, dated as the file dated it (or,
    undated, when it was imported)."""
    d = lead["decision"] or {}
    if d.get("id") != models.HISTORY_DECISION_ID:
        return []
    return [_entry(
        d.get("at") or lead["created_at"], "decide", outcome=d.get("outcome"),
        reason=d.get("reason"), reason_label=_reason_label(ctx, d.get("outcome"), d.get("reason")),
        note=d.get("note"), detail="before Triage, from the CRM's history",
    )]  # fmt: skip


def _event_entries(conn: Connection, ctx: Context, lead_id: str) -> list[dict[str, Any]]:
    """The reps' actions on the lead (decisions, undos, reopenings), as the server took them."""
    events = conn.execute(
        select(EVENT, USER.c.email)
        .select_from(EVENT.join(USER, USER.c.id == EVENT.c.user_id))
        .where(EVENT.c.lead_id == lead_id)
        .order_by(EVENT.c.seq)
    ).all()
    out = []
    for e in events:
        m = e._mapping
        out.append(_entry(
            m["effective_at"], m["kind"], outcome=m["outcome"], reason=m["reason"],
            reason_label=_reason_label(ctx, m["outcome"], m["reason"]),
            note=m["note"], by=m["email"],
            nurture_until=m["nurture_until"].isoformat() if m["nurture_until"] else None,
            received_at=domain.format_time(_aware(m["received_at"])),
        ))  # fmt: skip
    return out


def _lead_wire(ctx: Context, lead: dict[str, Any]) -> dict[str, Any]:
    """The lead as the history page shows it: its fields, times as text, the owner's
    email, and its decision with the reason's label."""
    wire = {
        k: lead[k]
        for k in (
            "id", "external_id", "name", "email", "phone", "title", "company", "industry",
            "company_size", "country", "source", "campaign", "score", "status", "evidence",
            "activities", "bant",
        )
    }  # fmt: skip
    for k in ("mql_at", "assigned_at", "decided_at", "created_at", "updated_at"):
        wire[k] = domain.format_time(_aware(lead[k]))
    wire["owner"] = lead["owner_email"]
    # marketing's columns no map placed, typed (text, number, true/false, ISO date), by key
    wire["attributes"] = dict(sorted((lead["attributes"] or {}).items()))
    decision = lead["decision"] or None
    wire["decision"] = decision
    if decision and decision.get("reason"):
        side = "reject" if decision.get("outcome") == "reject" else "nurture"
        wire["decision"] = {
            **decision,
            "reason_label": ctx.labels[side].get(decision["reason"], decision["reason"]),
        }
    return wire


def policy_history(conn: Connection, current: domain.Policy) -> dict[str, Any]:
    """Every stored policy version, newest first, each with what changed from the one
    before it (version 1 is the defaults when nothing was stored)."""
    rows = conn.execute(
        select(POLICY.c.version, POLICY.c.body, POLICY.c.created_at).order_by(POLICY.c.version)
    ).all()
    versions = []
    before = domain.DEFAULT_POLICY.to_dict()
    for version, body, created in rows:
        versions.append(
            {
                "version": version,
                "created_at": domain.format_time(_aware(created)),
                "changes": policy_changes(before, body),
            }
        )
        before = body
    versions.reverse()
    return {"current": current.to_dict(), "versions": versions}


def policy_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two policy documents, in words."""
    out = []
    if old.get("sla_hours") != new.get("sla_hours"):
        out.append(f"SLA {old.get('sla_hours'):g} h -> {new.get('sla_hours'):g} h")
    if (old.get("timezone") or "UTC") != (new.get("timezone") or "UTC"):
        out.append(f"time zone {old.get('timezone') or 'UTC'} -> {new.get('timezone') or 'UTC'}")
    olds = {c["key"]: c for c in old.get("bant") or []}
    news = {c["key"]: c for c in new.get("bant") or []}
    for key in news.keys() - olds.keys():
        out.append(f"criterion added: {news[key]['label']} ({key})")
    for key in olds.keys() - news.keys():
        out.append(f"criterion removed: {olds[key]['label']} ({key})")
    for key in sorted(news.keys() & olds.keys()):
        if news[key] != olds[key]:
            out.append(f"criterion changed: {news[key]['label']} ({key})")
    for side, name in (("rejection", "reject_reasons"), ("nurture", "nurture_reasons")):
        o = {r["code"]: r for r in old.get(name) or []}
        n = {r["code"]: r for r in new.get(name) or []}
        for code in [c for c in n if c not in o]:
            out.append(f"{side} reason added: {n[code]['label']} ({code})")
        for code in [c for c in o if c not in n]:
            out.append(f"{side} reason retired: {o[code]['label']} ({code})")
        for code in [c for c in n if c in o and n[c] != o[c]]:
            was, now = o[code], n[code]
            parts = []
            if was.get("label") != now.get("label"):
                parts.append(f"label {was.get('label')!r} -> {now.get('label')!r}")
            if bool(was.get("note_required")) != bool(now.get("note_required")):
                parts.append("note required" if now.get("note_required") else "note optional")
            if was.get("bant") != now.get("bant"):
                parts.append(f"criterion {was.get('bant') or '-'} -> {now.get('bant') or '-'}")
            if was.get("key") != now.get("key"):
                parts.append(f"picker key {was.get('key') or '-'} -> {now.get('key') or '-'}")
            out.append(f"{side} reason changed: {code}: {', '.join(parts) or 'changed'}")
    return out or ["no change in content"]


def qualification(conn: Connection, ctx: Context, by: str) -> dict[str, Any]:
    """The qualification report of protocol v1 (`triage server report`, GET
    /v1/reports/qualification), over all time, with the corrected definitions: the median
    runs from assignment; `reasons` (deprecated) keeps the flat map of every reason, and
    `reject_reasons` and `nurture_reasons` hold them apart, with labels."""
    if by not in ("campaign", "source", "rep"):
        raise ReportError("by must be campaign, source or rep")
    col = LEAD.c.owner_id if by == "rep" else DIMENSIONS[by]
    dec, total, opn, rsn = all_time_figures(conn, ctx, col)
    emails = dict(conn.execute(select(USER.c.id, USER.c.email)).all()) if by == "rep" else {}
    keys = set(total) | set(dec)
    rows = []
    for k in keys:
        f = dec.get(k, Figures())
        counts = rsn.get(k) or {"reject": {}, "nurture": {}}
        flat: dict[str, int] = {}
        for side in ("reject", "nurture"):
            for code, n in counts[side].items():
                if code:
                    flat[code] = flat.get(code, 0) + n
        key = emails.get(k[0], None if k[0] is None else str(k[0])) if by == "rep" else k[0]
        rows.append(
            {
                "key": key,
                "mqls": total.get(k, 0),
                "open": opn.get(k, (0, 0))[0],
                "accepted": f.accepted,
                "rejected": f.rejected,
                "nurtured": f.nurtured,
                "decided": f.decided,
                "acceptance_rate": _rate(f.acceptance_rate),
                "median_hours_to_decision": _hours(f.median_hours),
                "sla_compliance": _rate(f.sla_compliance),
                "open_past_sla": opn.get(k, (0, 0))[1],
                "reasons": dict(sorted(flat.items(), key=lambda kv: (-kv[1], kv[0]))),
                **ctx.reasons(counts),
            }
        )
    rows.sort(key=lambda r: (r["key"] is None, r["key"] or ""))
    return {"by": by, "sla_hours": ctx.sla_hours, "rows": rows}


def all_time_figures(conn: Connection, ctx: Context, col: ColumnElement[Any]) -> tuple[
    dict[tuple[Any, ...], Figures], dict[tuple[Any, ...], int],
    dict[tuple[Any, ...], tuple[int, int]], dict[tuple[Any, ...], dict[str, dict[str, int]]],
]:  # fmt: skip
    """Every lead ever, by `col` (campaign, source or owner): what decision_figures,
    received_counts, open_counts and reason_counts give for all time, in two passes over
    an index in `col`'s order (ix_lead_all_<col>, migration 0015) instead of five sorted
    scans: one by (col, status, reason) for the counts, one by col for the medians."""
    dialect = conn.dialect.name
    decided = LEAD.c.decided_at.is_not(None)
    hours = LEAD.c.decision_hours
    cutoff = _at(ctx.now - timedelta(hours=ctx.sla_hours), "sla_cutoff")
    past = or_(
        LEAD.c.assigned_at < cutoff, and_(LEAD.c.assigned_at.is_(None), LEAD.c.mql_at < cutoff)
    )
    is_open = LEAD.c.status == "open"
    counts = select(
        col, LEAD.c.status, LEAD.c.decision_reason, func.count(),
        _count_if(and_(is_open, past)), _count_if(decided),
        _count_if(and_(decided, hours <= ctx.sla_hours)),
        func.count(case((decided, hours), else_=None)),
    ).group_by(col, LEAD.c.status, LEAD.c.decision_reason)  # fmt: skip
    dec: dict[tuple[Any, ...], Figures] = {}
    total: dict[tuple[Any, ...], int] = {}
    opn: dict[tuple[Any, ...], tuple[int, int]] = {}
    rsn: dict[tuple[Any, ...], dict[str, dict[str, int]]] = {}
    for g, status, reason, n, n_past, n_decided, within, timed_n in conn.execute(counts):
        k = (g,)
        total[k] = total.get(k, 0) + n
        if status == "open":
            o, op = opn.get(k, (0, 0))
            opn[k] = (o + n, op + (n_past or 0))
        if not n_decided:
            continue
        f = dec.setdefault(k, Figures())
        f.decided += n_decided
        f.within_sla += within or 0
        f.timed += timed_n or 0
        if status == "accepted":
            f.accepted += n_decided
        elif status in ("rejected", "nurture"):
            f.rejected += n_decided if status == "rejected" else 0
            f.nurtured += n_decided if status == "nurture" else 0
            side = "reject" if status == "rejected" else "nurture"
            slot = rsn.setdefault(k, {"reject": {}, "nurture": {}})[side]
            slot[reason or ""] = slot.get(reason or "", 0) + n_decided
    middle = select(col, median(dialect, case((decided, hours), else_=None))).group_by(col)
    for g, m in conn.execute(middle):
        if (g,) in dec and m is not None:
            dec[(g,)].median_hours = max(0.0, float(m))
    return dec, total, opn, rsn
