"""Past decisions from a CRM's file (CSV), read through an import map (triage.server.maps)
whose [history] names the outcome column (and optionally the reason and the date): each
row becomes a decision with the lead's features, as `triage server import` would read the
lead, without needing an email. The outcome, reason and date columns never become
features. Nothing is written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from triage import domain
from triage.server.importer import read_csv, read_path
from triage.server.maps import HistoryColumns, ImportMap, header_key
from triage.server.placement import ImportFile, ImportFileError
from triage.server.suggest.features import snapshot
from triage.server.suggest.store import Decision

_NO_EMAIL = "history@example.invalid"  # the check of a row needs one; no feature reads it
_SHOWN_PROBLEMS = 10


class HistoryError(Exception):
    """The file or its rows cannot be read as past decisions; the message says why, and
    `problems` the bad rows (label, problems), if that was it."""

    def __init__(self, message: str, problems: list[tuple[str, list[str]]] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class History:
    decisions: list[Decision]
    dated: bool  # the map names a date column: split by time
    skipped: int = 0  # rows the map's [status] skips
    # Each decision's lead as `triage server import --history` creates it, with the row's
    # label: the same order as `decisions` (its email "" when the row has none).
    leads: list[tuple[str, domain.LeadInput]] = field(default_factory=list)


def read_history(
    path: Path | str, import_map: ImportMap, *, encoding: str | None = None
) -> History:
    """Raises HistoryError naming what is wrong (the file, its header, up to ten bad rows)."""
    history = import_map.history
    if history is None:
        raise HistoryError(
            f"{import_map.name}: the map has no [history] section: name the column of each "
            'row\'s outcome, e.g. [history] outcome = "Converted", accept = ["1"], '
            'reject = ["0"]'
        )
    try:
        data = read_path(path)
    except ImportFileError as exc:
        raise HistoryError(str(exc)) from None
    return _Reader(str(path), import_map, history).read(data, encoding)


class _Reader:
    def __init__(self, name: str, import_map: ImportMap, history: HistoryColumns):
        self.name = name
        self.map = import_map
        self.history = history
        self.problems: list[tuple[str, list[str]]] = []
        self.reasons = {header_key(v): code for code, v in import_map.reasons.items()}
        self.at: dict[str, int | None] = {}
        self.decisions: list[Decision] = []
        self.leads: list[tuple[str, domain.LeadInput]] = []

    def read(self, data: bytes, encoding: str | None) -> History:
        try:
            found = read_csv(self.name, data, self.map, encoding=encoding, history=True,
                             header_hook=self._columns, row_hook=self._row)  # fmt: skip
        except ImportFileError as exc:
            raise HistoryError(str(exc)) from None
        self.problems = found.problems + self.problems
        if self.problems:
            raise HistoryError(self._problems(), self.problems)
        if not self.decisions:
            raise HistoryError(f"{self.name}: no decisions in the file")
        return History(self.decisions, self.history.date is not None, len(found.skipped),
                       self.leads)  # fmt: skip

    def _row(self, label: str, values: list[str], found: ImportFile) -> None:
        """After the import's Placement read the row: its outcome, reason and date."""
        if found.labels and found.labels[-1] == label and not _bad(found, label):
            self._decision(label, found.rows[-1], values)

    def _columns(self, header: list[str]) -> None:
        keys = [header_key(h) for h in header]
        at = self.at
        for what in ("outcome", "reason", "date"):
            wanted = getattr(self.history, what)
            at[what] = keys.index(wanted) if wanted in keys else None
            if wanted and at[what] is None:
                raise HistoryError(
                    f"{self.name}: header (line 1): no column {wanted!r} for the {what} "
                    f"(the map's [history])"
                )

    def _decision(self, label: str, row: dict[str, Any], values: list[str]) -> None:
        at = self.at
        problems: list[str] = []
        cell = values[at["outcome"]].strip() if at["outcome"] is not None else ""
        outcome = self.history.values.get(header_key(cell))
        if outcome is None:
            known = ", ".join(sorted(self.history.values))
            problems.append(f"outcome {cell!r} is none of the map's values ({known})")
        reason = None
        if at["reason"] is not None and values[at["reason"]].strip():
            raw = values[at["reason"]].strip()
            reason = self.reasons.get(header_key(raw), raw)
        when = None
        if at["date"] is not None:
            raw = values[at["date"]].strip()
            when = self.map.parse_time(raw) if raw else None
            if when is None:
                problems.append(f"date {raw!r} is not a date in the map's formats or ISO 8601")
        lead, bad = domain.parse_import_row({"email": _NO_EMAIL, **row})
        problems += bad
        if problems or lead is None or outcome is None:
            self.problems.append((label, problems))
            return
        fields = {**lead.fields, "evidence": lead.evidence, "attributes": lead.attributes or {}}
        reason = reason if outcome != "accept" else None
        self.decisions.append(Decision(snapshot(fields), outcome, reason, when))
        self.leads.append((label, replace(lead, email="") if lead.email == _NO_EMAIL else lead))

    def _problems(self) -> str:
        shown = "\n".join(
            f"  {label}: {'; '.join(p)}" for label, p in self.problems[:_SHOWN_PROBLEMS]
        )
        more = len(self.problems) - _SHOWN_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        return f"{self.name}: {len(self.problems)} bad row(s); nothing evaluated\n{shown}{tail}"


def _bad(found: ImportFile, label: str) -> bool:
    return bool(found.problems) and found.problems[-1][0] == label
