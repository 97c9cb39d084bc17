"""Reading import files (CSV with a header row, or JSON Lines) into rows for `Backend.upsert_leads`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from triage import csvsafe, domain
from triage.server.service import RowProblems

MAX_IMPORT_BYTES = 256 * 1024 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message says why."""


class UnreadableRows(RowProblems):
    """Some lines cannot be read. Carries the lines that could, so they can be checked too."""

    def __init__(
        self,
        problems: list[tuple[str, list[str]]],
        unreadable: list[tuple[str, list[str]]],
        rows: list[dict[str, Any]],
        labels: list[str],
    ):
        super().__init__(problems)
        self.unreadable = unreadable
        self.rows = rows
        self.labels = labels


def read_rows(path: Path | str) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows and their labels ("line N"). Raises ImportFileError or RowProblems."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ImportFileError(f"{path}: use a .csv or .jsonl file")
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{path}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; split it")
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None
    rows = _read_csv(path, text) if suffix == ".csv" else _read_jsonl(path, text)
    if not rows[0]:
        raise ImportFileError(f"{path}: no rows to import")
    return rows


def rows_from_bytes(name: str, data: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of an uploaded file, as `read_rows` reads a file: `name` says the format (.csv,
    .jsonl). Raises ImportFileError or UnreadableRows, as `read_rows` does."""
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ImportFileError(f"{path.name}: use a .csv or .jsonl file")
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{path.name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    rows = _read_csv(path, text) if suffix == ".csv" else _read_jsonl(path, text)
    if not rows[0]:
        raise ImportFileError(f"{path.name}: no rows to import")
    return rows


def _read_csv(path: Path, text: str) -> tuple[list[dict[str, Any]], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{path}: empty file") from None
    except csv.Error as exc:
        raise ImportFileError(f"{path}: line 1: {exc}") from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in domain.IMPORT_KEYS or h == "activities"]
    missing = [k for k in domain.IMPORT_REQUIRED if k not in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    problems = []
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if dupes:
        problems.append(f"repeated column(s): {', '.join(dupes)}")
    if problems:
        known = ", ".join(k for k in domain.IMPORT_KEYS if k != "activities")
        raise ImportFileError(f"{path}: header (line 1): {'; '.join(problems)}. Columns: {known}")
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    bad: list[tuple[str, list[str]]] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad.append((f"line {start}", [str(exc)]))
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            bad.append((f"line {start}", [f"{len(values)} fields, the header has {len(header)}"]))
            continue
        # A cell Triage's own CSV writer guarded against spreadsheet formulas gets its
        # value back (triage.csvsafe), so a CSV Triage wrote imports unchanged.
        rows.append(
            {k: csvsafe.uncell(v) for k, v in zip(header, values, strict=True) if v.strip() != ""}
        )
        labels.append(f"line {start}")
    if bad:
        raise _with_row_problems(bad, rows, labels)
    return rows, labels


def _read_jsonl(path: Path, text: str) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    bad: list[tuple[str, list[str]]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        problem = _json_problem(raw)
        if isinstance(problem, str):
            bad.append((f"line {n}", [problem]))
            continue
        obj = problem[0]
        if not isinstance(obj, dict):
            bad.append((f"line {n}", ["expected a JSON object"]))
            continue
        rows.append(obj)
        labels.append(f"line {n}")
    if bad:
        raise _with_row_problems(bad, rows, labels)
    return rows, labels


def _json_problem(raw: str) -> str | tuple[Any]:
    """The line's JSON value (in a 1-tuple), or what is wrong with it.

    Python's reader raises more than JSONDecodeError: ValueError for a number of more
    than 4,300 digits (int's limit on converting text) and RecursionError for arrays or
    objects nested past the interpreter's limit. Each is one bad line, like any other.
    """
    try:
        return (json.loads(raw),)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return "not valid JSON: arrays or objects nested too deeply"
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion"
        if "digits" in str(exc):
            return "not valid JSON: a number with more than 4,300 digits"
        return f"not valid JSON: {domain.shown_text(exc)[:100]}"


def _with_row_problems(
    bad: list[tuple[str, list[str]]], rows: list[dict[str, Any]], labels: list[str]
) -> UnreadableRows:
    """Report unreadable rows together with every other bad row of the file."""
    unreadable = list(bad)
    for label, row in zip(labels, rows, strict=True):
        _, errs = domain.parse_import_row(row)
        if errs:
            bad.append((label, errs))
    bad.sort(key=lambda p: int(p[0].split()[-1]))
    return UnreadableRows(bad, unreadable, rows, labels)
