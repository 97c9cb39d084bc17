"""Reading import files into rows for `Backend.import_leads`: CSV with a header row (Triage's
own columns, or a CRM export read through an import map: triage.server.maps), or JSON Lines.

A CSV file may be UTF-8 with or without a byte order mark, or another encoding when told
(`--encoding cp1252`); a byte that is not the encoding's is named by its line. The
delimiter is the one of `,`, `;` and tab that the header row uses most. A column whose
header is empty is ignored while its cells are (the trailing comma of many exports).
Every bad line is named, with all of its problems; a file that cannot be read at all
raises ImportFileError.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triage import domain
from triage.server.maps import NATIVE, ImportMap
from triage.server.placement import ImportFile, ImportFileError, Placement

MAX_IMPORT_BYTES = 256 * 1024 * 1024
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_DELIMITERS = (",", ";", "\t")


def read_file(
    path: Path | str, *, import_map: ImportMap = NATIVE, encoding: str | None = None
) -> ImportFile:
    return read_bytes(str(path), read_path(path), import_map=import_map, encoding=encoding)


def read_path(path: Path | str) -> bytes:
    """The file's bytes; ImportFileError when it is missing, too large or unreadable."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{path}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; split it")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None


def read_bytes(
    name: str, data: bytes, *, import_map: ImportMap = NATIVE, encoding: str | None = None
) -> ImportFile:
    """A file's rows, `name` saying its format (.csv or .jsonl)."""
    suffix = Path(name).suffix.lower()
    if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES:
        raise ImportFileError(f"{name}: use a .csv or .jsonl file (a spreadsheet: save it as CSV)")
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; split it")
    text = decode(name, data, encoding)
    if suffix in JSONL_SUFFIXES:
        if not import_map.native:
            raise ImportFileError(f"{name}: a map reads CSV files; JSON Lines has Triage's keys")
        found = _read_jsonl(text)
    else:
        found = read_csv(name, text, import_map)
    if not found.count:
        raise ImportFileError(f"{name}: no rows to import")
    return found


def decode(name: str, data: bytes, encoding: str | None) -> str:
    """The file's text: UTF-8 (a byte order mark dropped) unless `encoding` says otherwise."""
    wanted = encoding or "utf-8"
    try:
        codec = codecs.lookup(wanted).name
    except LookupError:
        raise ImportFileError(
            f"unknown encoding {wanted!r} (e.g. utf-8, cp1252, latin-1)"
        ) from None
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = "" if encoding else "; say which it is, e.g. --encoding cp1252 (Windows, Excel)"
        raise ImportFileError(
            f"{name}: line {line}: not {encoding or 'UTF-8'} text (byte 0x{data[exc.start]:02x})"
            f"{hint}"
        ) from None


def sniff_delimiter(text: str) -> str:
    """`,`, `;` or tab: whichever the header row (outside quotes) holds most; `,` on a tie."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in text[:65536]:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


# Told of each row a Placement read (its label, its cells and the file read so far): a
# file of past decisions (triage.server.suggest.history) reads its outcome columns so.
RowHook = Callable[[str, list[str], ImportFile], None]


def read_csv(
    name: str,
    text: str,
    import_map: ImportMap,
    *,
    history: bool = False,
    header_hook: Callable[[list[str]], None] | None = None,
    row_hook: RowHook | None = None,
) -> ImportFile:
    """The rows of a CSV text through `import_map`; `history`: a file of past decisions
    (no email needed), whose header and rows the hooks see too."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{name}: empty file") from None
    except csv.Error as exc:
        raise ImportFileError(f"{name}: line 1: {exc}") from None
    placement = Placement.make(name, header, import_map, history=history)
    if header_hook is not None:
        header_hook(header)
    found = ImportFile(updates_only=placement.updates_only)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            found.problems.append((f"line {start}", [str(exc)]))
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            if import_map.end_at_blank_line and found.count:
                break  # what follows is a report's footer, not data
            continue
        placement.read(f"line {start}", values, found)
        if row_hook is not None:
            row_hook(f"line {start}", values, found)
    return found


def _read_jsonl(text: str) -> ImportFile:
    found = ImportFile()
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        problem = _json_problem(raw)
        if isinstance(problem, str):
            found.problems.append((f"line {n}", [problem]))
        elif not isinstance(problem[0], dict):
            found.problems.append((f"line {n}", ["expected a JSON object"]))
        else:
            found.rows.append(problem[0])
            found.labels.append(f"line {n}")
    return found


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


__all__ = [
    "ImportFile", "ImportFileError", "MAX_IMPORT_BYTES", "decode", "read_bytes", "read_csv",
    "read_file", "read_path", "sniff_delimiter",
]  # fmt: skip
