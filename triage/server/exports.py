"""Decisions out: `triage server export`, `GET /v1/exports` and the workspace's download.

Which decisions: every lead's *standing* decision whose time (`decided_at`, the rep's time
clamped into [assigned, received], as the reports use it) falls in the days asked for, read
in the policy's time zone. A decision undone (reopened) or set aside by a new cycle
(`assign --force`, a newer MQL) no longer stands and is not exported: the file tells the
CRM what holds now, one row per lead; earlier cycles stay in the lead's history.

Formats:
- `hubspot`, `salesforce` (or a map of one's own): the file the CRM's import reads to update
  each lead, with only the identifying column, the status, the reason and the note; the
  columns and values come from the map's [export], [outcomes] and [reasons]
  (triage.server.maps; the presets say where each came from).
- `csv`, `jsonl`: Triage's whole decision record, RECORD_COLUMNS.

Every CSV goes through triage.csvsafe (a note starting with `=` is not a formula).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, timezone
from typing import Any

from sqlalchemy import select

from triage import csvsafe, domain
from triage.server import models, reports
from triage.server.maps import PRESETS, ImportMap, MapError, load_map, parse_map

FORMATS = ("hubspot", "salesforce", "csv", "jsonl")
CRM_FORMATS = PRESETS
RECORD_COLUMNS = (
    "lead_id", "external_id", "email", "outcome", "reason", "reason_label", "note",
    "nurture_until", "rep", "decided_at", "campaign", "source",
)  # fmt: skip
MAX_DAYS = 366 * 20  # a bound on the range (the query reads an index either way)


class ExportError(Exception):
    """An export that cannot be made (a bad date, format or map); the message says why."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One lead's standing decision, as Triage keeps it (RECORD_COLUMNS)."""

    lead_id: str
    external_id: str
    email: str
    outcome: str
    reason: str | None
    reason_label: str | None
    note: str | None
    nurture_until: str | None
    rep: str | None
    decided_at: str
    campaign: str | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Export:
    """A file made: its text, how many decisions it holds, and the period they are from."""

    text: str
    count: int
    format: str
    period: reports.Period

    @property
    def media_type(self) -> str:
        if self.format == "jsonl":
            return "application/x-ndjson; charset=utf-8"
        return "text/csv; charset=utf-8"

    @property
    def filename(self) -> str:
        ext = "jsonl" if self.format == "jsonl" else "csv"
        return f"triage-decisions-{self.format}-{self.period.start}-to-{self.period.end}.{ext}"


def export_map(fmt: str, spec: str | None = None, text: str | None = None) -> ImportMap | None:
    """The map a CRM format writes with: `text` (a map file's contents, as the workspace
    uploads it), else `spec` (a preset's name or a map file), else the format's preset;
    None for csv and jsonl. Raises ExportError."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt not in CRM_FORMATS:
        if spec or text:
            raise ExportError(f"--map is for the CRM formats ({', '.join(CRM_FORMATS)}); "
                              f"{fmt} carries Triage's own record")  # fmt: skip
        return None
    try:
        found = parse_map(text, "the map file") if text else load_map(spec or fmt)
    except MapError as exc:
        raise ExportError(str(exc)) from None
    if found.export is None:
        raise ExportError(f"{found.name}: the map has no [export] section (the columns to "
                          f"write); copy the one of the {fmt} preset")  # fmt: skip
    return found


def export(
    backend: Any,
    fmt: str,
    since: str | date | None,
    until: str | date | None = None,
    *,
    map_spec: str | None = None,
    map_text: str | None = None,
) -> Export:
    """The decisions made from `since` to `until` (dates, both included, in the policy's
    time zone; `until` defaults to today) as a file in `fmt`. Raises ExportError."""
    import_map = export_map(fmt, map_spec, map_text)
    with backend.db.read() as s:
        policy = backend._policy(s)
        p = period(policy.timezone, since, until)
        decisions = read_decisions(s, p, reports.reason_labels(s.connection(), policy))
    if import_map is not None:
        text = crm_csv(decisions, import_map)
    elif fmt == "csv":
        text = _csv([list(RECORD_COLUMNS), *([getattr(d, c) for c in RECORD_COLUMNS]
                                             for d in decisions)])  # fmt: skip
    else:
        text = "".join(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in decisions)
    return Export(text, len(decisions), fmt, p)


def period(tz: str, since: str | date | None, until: str | date | None) -> reports.Period:
    if not since:
        raise ExportError("say from which day (since), e.g. 2026-11-01; until today unless told")
    try:
        first = since if isinstance(since, date) else date.fromisoformat(str(since).strip())
        last = (
            until if isinstance(until, date)
            else date.fromisoformat(str(until).strip()) if until
            else reports.today_in(tz)
        )  # fmt: skip
    except ValueError:
        raise ExportError("since and until are dates like 2026-11-30") from None
    if last < first:
        raise ExportError(f"the period ends ({last}) before it starts ({first})")
    if (last - first).days >= MAX_DAYS:
        raise ExportError("a period of at most 20 years")
    return reports.Period(first, last, tz)


def read_decisions(s: Any, p: reports.Period, labels: dict[str, dict[str, str]]) -> list[Decision]:
    L = models.Lead
    rows = s.execute(
        select(
            L.id, L.external_id, L.email, L.status, L.decision, L.decided_at, L.campaign, L.source
        )  # fmt: skip
        .where(L.status != domain.Status.OPEN.value)
        .where(L.decided_at >= p.start_utc.astimezone(timezone.utc))
        .where(L.decided_at < p.end_utc.astimezone(timezone.utc))
        .order_by(L.decided_at, L.external_id)
    ).all()
    out = []
    for lead_id, external_id, email, _status, decision, decided_at, campaign, source in rows:
        d = decision or {}
        outcome = str(d.get("outcome") or "")
        code = d.get("reason") or None
        side = "reject" if outcome == domain.Outcome.REJECT.value else "nurture"
        out.append(Decision(
            lead_id, external_id, email, outcome, code,
            labels.get(side, {}).get(code, code) if code else None,
            d.get("note") or None, d.get("nurture_until") or None, d.get("by"),
            domain.format_time(decided_at), campaign, source,
        ))  # fmt: skip
    return out


def crm_row(d: Decision, m: ImportMap) -> list[str]:
    """A decision as the CRM's import reads it: [id, (email,) status, reason, note]."""
    cols = m.export
    assert cols is not None
    ids = [d.external_id]
    if cols.email:
        is_record = cols.id_pattern is None or re.fullmatch(cols.id_pattern, d.external_id)
        ids = [d.external_id, ""] if is_record else ["", d.email]
    status = m.reason_status.get(d.reason or "") or m.outcomes[d.outcome]
    reason = (m.reasons.get(d.reason) or d.reason_label or d.reason) if d.reason else ""
    return [*ids, status, reason or "", d.note or ""]


def crm_csv(decisions: Iterable[Decision], m: ImportMap) -> str:
    assert m.export is not None
    return _csv([m.export.header(), *(crm_row(d, m) for d in decisions)])


def _csv(rows: Iterable[list[Any]]) -> str:
    """Formula-safe CSV, CRLF (triage.csvsafe)."""
    buf = io.StringIO()
    w = csvsafe.writer(buf)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()
