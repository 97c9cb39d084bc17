"""An import map on a CSV file's header (where each field is) and on each of its lines (the
row in Triage's import keys, its attributes, or the problems that keep it out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from triage import csvsafe, domain
from triage.server.maps import PLACEABLE, ImportMap, header_key

Problems = list[tuple[str, list[str]]]
_REQUIRED = ("external_id", "email")


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message says why."""


@dataclass
class ImportFile:
    """What a file holds: rows (Triage's import keys) by label ("line 7"), the lines that
    cannot be imported with their problems, and the rows the map skips (a CRM status)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: Problems = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # A CRM file with no name column (an export of Triage's decisions, say): its rows update
    # leads that exist, found by external id (or email), and create none (Placement).
    updates_only: bool = False

    @property
    def count(self) -> int:
        """The lines that hold a row (good, bad or skipped)."""
        bad = {label for label, _ in self.problems} - set(self.labels)
        return len(self.rows) + len(bad) + len(self.skipped)


@dataclass
class Placement:
    """Where each field of a file's rows is, for one header and one map."""

    map: ImportMap
    header: list[str]
    fields: dict[str, list[int]]  # import key -> columns; the first non-empty cell wins
    first: list[int]
    last: list[int]
    status: int | None
    attributes: dict[int, str]  # column -> attribute key
    nameless: list[int]  # columns with an empty header: their cells must be empty too
    # A map's file with no name column updates leads only: the rows carry the fields placed,
    # never attributes, and the status column is read as "leave the decision as it is".
    updates_only: bool = False
    # field -> its template's parts: text, or a column (the map's [templates])
    templates: dict[str, list[str | int]] = field(default_factory=dict)
    history: bool = False  # a file of past decisions: no email needed (maps, [history])

    @classmethod
    def make(
        cls, name: str, header: list[str], import_map: ImportMap, *, history: bool = False
    ) -> Placement:
        """Raises ImportFileError naming every problem of the header. `history`: the file
        holds past decisions (the map's [history] says where their outcomes are)."""
        keys = [header_key(h) for h in header]
        at: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k:
                at.setdefault(k, i)

        def find(candidates: tuple[str, ...]) -> list[int]:
            return [at[c] for c in candidates if c in at]

        fields = {f: found for f, c in import_map.columns.items() if (found := find(c))}
        for f in PLACEABLE:  # a column named as a field, unless the map says otherwise
            if f not in import_map.columns and f not in import_map.constants:
                for k, i in at.items():
                    if k.replace(" ", "_") == f:
                        fields[f] = [i]
        status = at.get(import_map.status_column) if import_map.status_column else None
        first, last = find(import_map.first_name), find(import_map.last_name)
        named = (
            "name" in fields or "name" in import_map.constants or "name" in import_map.templates
            or first or last
        )  # fmt: skip
        made = cls(import_map, list(header), fields, first, last, status, {}, [],
                   updates_only=not import_map.native and not named and not history,
                   history=history)  # fmt: skip
        problems = made._templates(at)
        problems += made._place_the_rest(keys)
        problems += made._missing()
        if problems:
            columns = ", ".join(PLACEABLE) if import_map.native else None
            where = f"{name}: header (line 1)"
            detail = "; ".join(problems) + (f". Columns: {columns}" if columns else "")
            raise ImportFileError(f"{where}: {detail}")
        return made

    def _templates(self, at: dict[str, int]) -> list[str]:
        problems = []
        for f, parts in self.map.templates.items():
            placed: list[str | int] = []
            for part in parts:
                if isinstance(part, str):
                    placed.append(part)
                elif part[0] in at:
                    placed.append(at[part[0]])
                else:
                    problems.append(f"no column {part[0]!r} for the template of {f}")
            self.templates[f] = placed
        return problems

    def _after_decision(self, keys: list[str]) -> set[int]:
        """The columns of a map's [history]: written after the decision, never attributes."""
        wanted = self.map.history.keys() if self.map.history else frozenset()
        return {i for i, k in enumerate(keys) if k in wanted}

    def _place_the_rest(self, keys: list[str]) -> list[str]:
        used = {i for idx in self.fields.values() for i in idx} | {*self.first, *self.last}
        used |= {i for parts in self.templates.values() for i in parts if isinstance(i, int)}
        used |= self._after_decision(keys)
        if self.status is not None:
            used.add(self.status)  # kept as an attribute too (below)
        problems: list[str] = []
        unplaced = []
        for i, k in enumerate(keys):
            if not k:
                self.nameless.append(i)
            elif i in used and i != self.status:
                continue
            elif k in self.map.ignore:
                continue
            elif self.updates_only:  # neither attributes nor refused, but what a map exports
                if self.map.strict and i != self.status and k not in self._exported():
                    unplaced.append(self.header[i].strip())
            elif i == self.status or not self.map.strict:
                self.attributes[i] = domain.attribute_key(self.header[i])
            else:
                unplaced.append(self.header[i].strip())
        repeated = sorted({self.header[i].strip() for i, k in enumerate(keys)
                           if k and keys.count(k) > 1 and k not in self.map.ignore})  # fmt: skip
        if unplaced and self.map.native:
            problems.append(f"unknown column(s): {', '.join(unplaced)}")
        elif unplaced:
            problems.append(f"column(s) the map does not place (--strict): {', '.join(unplaced)}")
        if repeated:
            problems.append(f"repeated column(s): {', '.join(repeated)}")
        problems += self._attribute_key_problems()
        return problems

    def _exported(self) -> frozenset[str]:
        return self.map.export.keys() if self.map.export else frozenset()

    def _attribute_key_problems(self) -> list[str]:
        problems = []
        seen: dict[str, str] = {}
        for i, key in self.attributes.items():
            column = self.header[i].strip()
            if not key:
                problems.append(f"column {column!r} has no letter or digit to name an attribute")
            elif key in seen and header_key(seen[key]) != header_key(column):
                problems.append(f"columns {seen[key]!r} and {column!r} are both attribute {key}")
            seen.setdefault(key, column)
        return problems

    def _missing(self) -> list[str]:
        m = self.map
        if self.updates_only:
            if "external_id" in self.fields or "email" in self.fields:
                return []
            looks = (*m.columns.get("external_id", ()), *m.columns.get("email", ()))
            named = " or ".join(repr(c) for c in looks) or "'external_id' or 'email'"
            return [f"no column to find the leads by (the map looks for {named}), and no "
                    "name column to create them"]  # fmt: skip
        required = ("external_id",) if self.history else _REQUIRED
        wanted = [
            f for f in required
            if f not in self.fields and f not in m.constants and f not in m.templates
        ]  # fmt: skip
        if (
            "name" not in self.fields
            and "name" not in m.constants
            and "name" not in m.templates
            and not (self.first or self.last)
        ):
            wanted.insert(1, "name")
        if m.native:
            return [f"missing required column(s): {', '.join(wanted)}"] if wanted else []
        out = []
        for f in wanted:
            looks = m.columns.get(f) or ((*m.first_name, *m.last_name) if f == "name" else ())
            named = " or ".join(repr(c) for c in looks) if looks else repr(f)
            out.append(f"no column for {f} (the map looks for {named})")
        return out

    def read(self, label: str, values: list[str], found: ImportFile) -> None:
        """One line: a row in `found.rows`, its problems in `found.problems`, or skipped."""
        if len(values) > len(self.header) and not any(
            v.strip() for v in values[len(self.header) :]
        ):
            values = values[: len(self.header)]  # trailing empty cells (a trailing comma)
        if len(values) != len(self.header):
            found.problems.append(
                (label, [f"{len(values)} fields, the header has {len(self.header)}"])
            )
            return
        uncell = csvsafe.uncell
        cells = [uncell(v) if v.startswith("'") else v for v in map(str.strip, values)]
        if self.map.empty:
            cells = ["" if header_key(c) in self.map.empty else c for c in cells]
        problems = [
            f"a value in column {i + 1}, which has no header" for i in self.nameless if cells[i]
        ]
        skip = self._status(cells, problems)
        if skip is not None and not problems:
            found.skipped.append((label, skip))
            return
        row = self._row(cells, problems)
        if problems:
            found.problems.append((label, problems))
        found.rows.append(row)
        found.labels.append(label)

    def _status(self, cells: list[str], problems: list[str]) -> str | None:
        """Why the map skips this row (its CRM status), or None. A file that only updates
        leads skips none: its status (Triage's own export, say) leaves the decision as it is."""
        if self.status is None or self.updates_only:
            return None
        value = cells[self.status]
        key = header_key(value)
        if key in self.map.status_skip:
            action = "skip"
        elif key in self.map.status_import:
            action = "import"
        else:
            action = self.map.status_other
        column = self.header[self.status].strip()
        if action == "error":
            problems.append(f"{column} {value!r} is in neither list of the map's [status]")
        return f"{column} {value!r}" if action == "skip" else None

    def _row(self, cells: list[str], problems: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = dict(self.map.constants)
        for f, idx in self.fields.items():
            if len(idx) == 1:  # most fields: one column
                if value := cells[idx[0]]:
                    row[f] = value
            elif value := next((cells[i] for i in idx if cells[i]), ""):
                row[f] = value
        for f, parts in self.templates.items():
            if any(cells[p] for p in parts if isinstance(p, int)):
                row[f] = "".join(p if isinstance(p, str) else cells[p] for p in parts).strip()
        if "name" not in row:
            parts = [cells[i] for i in (*self.first[:1], *self.last[:1]) if cells[i]]
            if parts:
                row["name"] = " ".join(parts)
        if "mql_at" in row:
            self._time(row, problems)
        if "score" in row and self.map.clamp_score:
            row["score"] = _clamped(row["score"])
        if not self.map.native and not self.updates_only:
            row["attributes"] = {
                key: self._value(cells[i]) for i, key in self.attributes.items() if cells[i]
            }
        return row

    def _time(self, row: dict[str, Any], problems: list[str]) -> None:
        text = row["mql_at"]
        when = self.map.parse_time(text)
        if when is not None:
            row["mql_at"] = when
        elif self.map.date_formats:
            del row["mql_at"]
            formats = ", ".join(self.map.date_formats)
            problems.append(f"mql_at {text!r} is not a date in the map's formats ({formats}) "
                            "or ISO 8601")  # fmt: skip

    def _value(self, text: str) -> Any:
        """A cell as an attribute: a date in the map's formats as ISO 8601 text, a number,
        true/false, else the text."""
        return self.map.iso_date(text) or domain.typed_value(text)


def _clamped(text: str) -> Any:
    """A score outside 0-100 brought inside (a map's clamp_score); text that is no number
    is left for the row's check to name."""
    try:
        value = float(text)
    except ValueError:
        return text
    if value != value:  # NaN
        return text
    return max(0, min(100, round(value)))
