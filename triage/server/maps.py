"""Import maps: how a CRM export's columns become Triage's import fields.

A map (TOML; the presets `hubspot` and `salesforce` are files in triage/server/presets/)
says which column holds each field (or several, the first non-empty wins), joins first and
last names, sets constants, reads dates in stated formats, maps the CRM's status values to
"import" or "skip", and lists columns to ignore. Headers match case-insensitively after
trimming. A column the map does not place becomes an attribute of the lead
(domain.attributes), unless the map is strict, which refuses such a column.

Without a map a file has Triage's own columns (README, import columns): the NATIVE map,
strict, where each column is placed by its name.

    [columns]
    external_id = "Record ID"
    email = "Email"
    mql_at = ["Became a Marketing Qualified Lead Date", "Create Date"]
    [name]
    first = "First Name"
    last = "Last Name"
    [constants]
    source = "HubSpot"
    [dates]
    formats = ["%m/%d/%Y", "%Y-%m-%d %H:%M"]
    timezone = "America/New_York"
    [status]
    column = "Lead Status"
    skip = ["Unqualified"]          # rows with these values are not imported
    other = "import"                # any other value: "import", "skip" or "error"
    [options]
    ignore = ["Associated Deal IDs"]
    strict = false
    clamp_score = false             # a score outside 0-100 is clamped instead of refused
    end_at_blank_line = false       # the first empty line ends the data (a report footer)

The same map says how `triage server export` writes decisions back for the CRM's import
(triage.server.exports): the columns, the status of each outcome, the value of each reason.

    [export]
    id = "Record ID"                # the lead's external id (the CRM's record id)
    id_pattern = "[0-9]+"           # external ids that are record ids; the others ...
    email = "Email"                 # ... are identified by their email in this column
    status = "Lead Status"
    reason = "Disqualification Reason"
    note = "Triage Note"
    [outcomes]                      # Triage's outcome -> the CRM's status
    accept = "IN_PROGRESS"
    reject = "UNQUALIFIED"
    nurture = "BAD_TIMING"
    [reasons]                       # Triage's reason code -> the CRM's reason value
    no_budget = "No Budget"         # (a code not named here: its label)
    no_response = { value = "No Response", status = "ATTEMPTED_TO_CONTACT" }

A map may build a field from other columns with a template (a column's name in braces),
and name values that mean "empty" (a form's unchosen "Select"):

    [templates]
    name = "Lead {Lead Number}"
    [options]
    empty = ["Select"]

A file of past decisions (`triage server suggest evaluate --csv FILE --map MAP`) needs the
column of each row's outcome, and may name its reason and its date (the evaluation's split
is then time-ordered). These columns are written after the decision: they never become
attributes. Values not listed are refused; without lists the values are accept, reject
and nurture themselves. A reason's value is read back through [reasons].

    [history]
    outcome = "Converted"
    accept = ["1"]
    reject = ["0"]
    reason = "Disqualification Reason"
    date = "Decision Date"
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from triage import domain

PRESETS_DIR = Path(__file__).with_name("presets")
PRESETS = ("hubspot", "salesforce")
# The import keys a map may place (activities come only in JSON Lines; attributes are what
# is left over).
PLACEABLE = tuple(k for k in domain.IMPORT_KEYS if k not in ("activities", "attributes"))
_SECTIONS = {
    "columns", "name", "constants", "dates", "status", "reasons", "options", "export", "outcomes",
    "templates", "history",
}  # fmt: skip
_TEMPLATE_PART = re.compile(r"\{([^{}]+)\}")
_STATUS_ACTIONS = ("import", "skip", "error")
OUTCOMES = ("accept", "reject", "nurture")


class MapError(Exception):
    """A map file that cannot be used; the message says why (and where)."""


def header_key(text: str) -> str:
    """How headers are matched: trimmed, inner spaces collapsed, case folded."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class ExportColumns:
    """A map's [export]: the headers of the file `triage server export` writes for the CRM.
    `id` holds the lead's external id; with `id_pattern`, only an external id that matches
    it whole is a record id, and a lead with another is identified by its email in the
    `email` column."""

    id: str
    status: str
    reason: str
    note: str
    id_pattern: str | None = None
    email: str | None = None

    def header(self) -> list[str]:
        ids = [self.id] + ([self.email] if self.email else [])
        return [*ids, self.status, self.reason, self.note]

    def keys(self) -> frozenset[str]:
        return frozenset(header_key(h) for h in self.header())


@dataclass(frozen=True, slots=True)
class HistoryColumns:
    """A map's [history]: where a file of past decisions says each row's outcome (its
    values -> accept, reject or nurture), and optionally its reason and its date."""

    outcome: str  # header_key()s
    values: dict[str, str]  # header_key() of the CRM's value -> the outcome
    reason: str | None = None
    date: str | None = None

    def keys(self) -> frozenset[str]:
        return frozenset(k for k in (self.outcome, self.reason, self.date) if k)


@dataclass(frozen=True, slots=True)
class ImportMap:
    name: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # header_key()s
    first_name: tuple[str, ...] = ()
    last_name: tuple[str, ...] = ()
    constants: dict[str, str] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ()
    tz: str = "UTC"
    status_column: str | None = None
    status_skip: frozenset[str] = frozenset()  # header_key()s of values
    status_import: frozenset[str] = frozenset()
    status_other: str = "import"
    reasons: dict[str, str] = field(default_factory=dict)  # code -> the CRM's reason value
    reason_status: dict[str, str] = field(default_factory=dict)  # code -> its own status
    outcomes: dict[str, str] = field(default_factory=dict)  # outcome -> the CRM's status
    export: ExportColumns | None = None
    # field -> its template's parts: text, or a column's header_key() as a 1-tuple
    templates: dict[str, tuple[str | tuple[str], ...]] = field(default_factory=dict)
    history: HistoryColumns | None = None
    empty: frozenset[str] = frozenset()  # header_key()s of cells that mean "empty"
    ignore: frozenset[str] = frozenset()
    strict: bool = False
    clamp_score: bool = False
    end_at_blank_line: bool = False

    @property
    def native(self) -> bool:
        return self.name == NATIVE.name

    def strictly(self, strict: bool) -> ImportMap:
        return replace(self, strict=self.strict or strict)

    def parse_time(self, text: str) -> datetime | None:
        """A date or time in one of the map's formats, or ISO 8601; None if neither. A time
        without a zone is read in the map's time zone."""
        for fmt in self.date_formats:
            try:
                dt = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=zoneinfo.ZoneInfo(self.tz))
            return dt.astimezone(timezone.utc)
        try:
            return domain.parse_time(text)
        except (ValueError, TypeError):
            return None

    def iso_date(self, text: str) -> str | None:
        """A date (or time) in one of the map's formats as ISO 8601 text: `2026-11-03` for a
        format without a time, else the UTC time; None when no format reads it."""
        for fmt in self.date_formats:
            try:
                dt = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if not any(d in fmt for d in ("%H", "%I", "%M", "%S")):
                return dt.date().isoformat()
            return domain.format_time(dt.replace(tzinfo=zoneinfo.ZoneInfo(self.tz)))
        return None


NATIVE = ImportMap(name="triage", strict=True)


def load_map(spec: str) -> ImportMap:
    """A preset by name (`hubspot`, `salesforce`) or a map file (TOML). Raises MapError."""
    if spec in PRESETS:
        return parse_map((PRESETS_DIR / f"{spec}.toml").read_text(encoding="utf-8"), spec)
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MapError(f"{spec}: no such map file (the presets are {', '.join(PRESETS)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MapError(f"{spec}: cannot read the map file: {exc}") from None
    return parse_map(text, path.name)


def parse_map(text: str, name: str) -> ImportMap:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MapError(f"{name}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise MapError(f"{name}: unknown section(s): {', '.join(unknown)} (known: "
                       f"{', '.join(sorted(_SECTIONS))})")  # fmt: skip
    reader = _MapReader(name, data)
    made = ImportMap(
        name=name,
        columns=reader.columns(),
        first_name=reader.names("first"),
        last_name=reader.names("last"),
        constants=reader.constants(),
        **reader.dates(),
        **reader.status(),
        **reader.reasons(),
        outcomes=reader.outcomes(),
        export=reader.export(),
        templates=reader.templates(),
        history=reader.history(),
        **reader.options(),
    )
    reader.check(made)
    return made


class _MapReader:
    """The sections of a map file, each checked; a problem raises MapError naming it."""

    def __init__(self, name: str, data: dict[str, Any]):
        self.name = name
        self.data = data

    def fail(self, where: str, problem: str) -> MapError:
        return MapError(f"{self.name}: [{where}] {problem}")

    def table(self, section: str, known: tuple[str, ...] | None = None) -> dict[str, Any]:
        value = self.data.get(section, {})
        if not isinstance(value, dict):
            raise self.fail(section, "must be a table")
        extra = sorted(set(value) - set(known)) if known is not None else []
        if extra:
            raise self.fail(section, f"unknown key(s): {', '.join(extra)} (known: "
                                     f"{', '.join(known or ())})")  # fmt: skip
        return value

    def headers(self, section: str, key: str, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(x, str) and x.strip() for x in items)
        ):
            raise self.fail(section, f"{key} must be a column name or a list of them")
        return tuple(header_key(x) for x in items)

    def columns(self) -> dict[str, tuple[str, ...]]:
        table = self.table("columns")
        bad = [k for k in table if k not in PLACEABLE]
        if bad:
            raise self.fail("columns", f"unknown field(s): {', '.join(bad)} (fields: "
                                       f"{', '.join(PLACEABLE)})")  # fmt: skip
        return {k: self.headers("columns", k, v) for k, v in table.items()}

    def names(self, part: str) -> tuple[str, ...]:
        value = self.table("name", ("first", "last")).get(part)
        return () if value is None else self.headers("name", part, value)

    def constants(self) -> dict[str, str]:
        table = self.table("constants", PLACEABLE)
        if not all(isinstance(v, str) and v.strip() for v in table.values()):
            raise self.fail("constants", "each constant must be non-empty text")
        return {k: v.strip() for k, v in table.items()}

    def dates(self) -> dict[str, Any]:
        table = self.table("dates", ("formats", "timezone"))
        formats = table.get("formats", [])
        if isinstance(formats, str):
            formats = [formats]
        if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f
                                                    for f in formats):  # fmt: skip
            raise self.fail("dates", 'formats must be strptime formats, e.g. "%m/%d/%Y"')
        tz = table.get("timezone", "UTC")
        problem = domain.timezone_problem(tz) if isinstance(tz, str) else "must be text"
        if problem:
            raise self.fail("dates", f"timezone: {problem}")
        return {"date_formats": tuple(formats), "tz": tz}

    def status(self) -> dict[str, Any]:
        table = self.table("status", ("column", "skip", "import", "other"))
        if not table:
            return {}
        if not isinstance(table.get("column"), str):
            raise self.fail("status", "column must name the CRM's status column")
        other = table.get("other", "import")
        if other not in _STATUS_ACTIONS:
            raise self.fail("status", f"other must be one of {', '.join(_STATUS_ACTIONS)}")
        values = {}
        for key in ("skip", "import"):
            items = table.get(key, [])
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise self.fail("status", f"{key} must be a list of the CRM's status values")
            values[f"status_{key}"] = frozenset(header_key(x) for x in items)
        return {"status_column": header_key(table["column"]), "status_other": other, **values}

    def reasons(self) -> dict[str, Any]:
        """[reasons]: code = "value", or code = { value = "...", status = "..." } for a
        reason whose CRM status is not its outcome's."""
        values, statuses = {}, {}
        for code, v in self.table("reasons").items():
            item = v if isinstance(v, dict) else {"value": v}
            if set(item) - {"value", "status"} or not all(
                isinstance(x, str) and x.strip() for x in item.values()
            ):
                raise self.fail("reasons", f"{code}: the CRM's value as text, or a table "
                                           '{ value = "...", status = "..." }')  # fmt: skip
            if "value" in item:
                values[code] = item["value"].strip()
            if "status" in item:
                statuses[code] = item["status"].strip()
        return {"reasons": values, "reason_status": statuses}

    def outcomes(self) -> dict[str, str]:
        table = self.table("outcomes", OUTCOMES)
        if not all(isinstance(v, str) and v.strip() for v in table.values()):
            raise self.fail("outcomes", "each outcome maps to the CRM's status (text)")
        return {k: v.strip() for k, v in table.items()}

    def export(self) -> ExportColumns | None:
        known = ("id", "id_pattern", "email", "status", "reason", "note")
        table = self.table("export", known)
        if not table:
            return None
        if not all(isinstance(v, str) and v.strip() for v in table.values()):
            raise self.fail("export", "each column is a header (text)")
        missing = [k for k in ("id", "status", "reason", "note") if k not in table]
        if missing:
            raise self.fail("export", f"missing {', '.join(missing)}")
        pattern = table.get("id_pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                problem = f"id_pattern is not a regular expression: {exc}"
                raise self.fail("export", problem) from None
            if "email" not in table:
                raise self.fail("export", "id_pattern needs email (the column for the others)")
        made = ExportColumns(**{k: v.strip() for k, v in table.items()})
        if len(made.keys()) != len(made.header()):
            raise self.fail("export", "two columns have the same header")
        return made

    def templates(self) -> dict[str, tuple[str | tuple[str], ...]]:
        out: dict[str, tuple[str | tuple[str], ...]] = {}
        for key, text in self.table("templates", PLACEABLE).items():
            if not isinstance(text, str) or not _TEMPLATE_PART.search(text):
                raise self.fail("templates", f'{key} must be text naming a column in braces, '
                                             'e.g. "Lead {Lead Number}"')  # fmt: skip
            parts: list[str | tuple[str]] = []
            for n, piece in enumerate(_TEMPLATE_PART.split(text)):
                if n % 2:
                    parts.append((header_key(piece),))
                elif piece:
                    parts.append(piece)
            out[key] = tuple(parts)
        return out

    def history(self) -> HistoryColumns | None:
        known = ("outcome", "reason", "date", *OUTCOMES)
        table = self.table("history", known)
        if not table:
            return None
        for key in ("outcome", "reason", "date"):
            if key in table and not (isinstance(table[key], str) and table[key].strip()):
                raise self.fail("history", f"{key} must name a column")
        if "outcome" not in table:
            raise self.fail("history", "outcome must name the column of each row's outcome")
        values: dict[str, str] = {}
        for outcome in OUTCOMES:
            items = table.get(outcome, [])
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise self.fail("history", f"{outcome} must be a list of the column's values")
            for x in items:
                if values.setdefault(header_key(x), outcome) != outcome:
                    raise self.fail("history", f"{x!r} is listed for two outcomes")
        made = HistoryColumns(
            outcome=header_key(table["outcome"]),
            values=values or {o: o for o in OUTCOMES},
            reason=header_key(table["reason"]) if "reason" in table else None,
            date=header_key(table["date"]) if "date" in table else None,
        )
        if len(made.keys()) != len([k for k in ("outcome", "reason", "date") if k in table]):
            raise self.fail("history", "outcome, reason and date must be different columns")
        return made

    def options(self) -> dict[str, Any]:
        known = ("ignore", "strict", "clamp_score", "end_at_blank_line", "empty")
        table = self.table("options", known)
        out: dict[str, Any] = {}
        for key in known[1:4]:
            if key in table:
                if not isinstance(table[key], bool):
                    raise self.fail("options", f"{key} must be true or false")
                out[key] = table[key]
        ignore = table.get("ignore", [])
        out["ignore"] = frozenset(self.headers("options", "ignore", ignore) if ignore else ())
        empty = table.get("empty", [])
        if not isinstance(empty, list) or not all(isinstance(x, str) for x in empty):
            raise self.fail("options", 'empty must be a list of values, e.g. ["Select"]')
        out["empty"] = frozenset(header_key(x) for x in empty)
        return out

    def check(self, made: ImportMap) -> None:
        both = sorted(set(made.columns) & set(made.constants))
        if both:
            raise self.fail("constants", f"{', '.join(both)}: also mapped to a column")
        both = sorted(set(made.templates) & (set(made.columns) | set(made.constants)))
        if both:
            raise self.fail("templates", f"{', '.join(both)}: also a column or a constant")
        if "name" in made.columns and (made.first_name or made.last_name):
            raise self.fail("name", "name is mapped to a column: no first and last too")
        missing = [o for o in OUTCOMES if o not in made.outcomes]
        if made.export is not None and missing:
            raise self.fail("outcomes", f"the CRM's status of each outcome: {', '.join(missing)} "
                                        "missing")  # fmt: skip
