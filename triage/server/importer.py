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
from collections.abc import Callable, Iterator
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
    return open_file(path, import_map=import_map, encoding=encoding).whole()


def open_file(
    path: Path | str, *, import_map: ImportMap = NATIVE, encoding: str | None = None
) -> ImportStream:
    """The file, to be read in batches (ImportStream); ImportFileError if it cannot be."""
    return ImportStream(str(path), read_path(path), import_map=import_map, encoding=encoding)


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


# Told of each row a Placement read (its label, its cells and the batch read so far): a
# file of past decisions (triage.server.suggest.history) reads its outcome columns so.
RowHook = Callable[[str, list[str], ImportFile], None]


def read_csv(
    name: str,
    data: bytes,
    import_map: ImportMap,
    *,
    encoding: str | None = None,
    history: bool = False,
    header_hook: Callable[[list[str]], None] | None = None,
    row_hook: RowHook | None = None,
) -> ImportFile:
    """The rows of a CSV file through `import_map`, whole; `history`: a file of past
    decisions (no email needed), whose header and rows the hooks see too."""
    stream = ImportStream(name, data, import_map=import_map, encoding=encoding, history=history)
    stream.header_hook, stream.row_hook = header_hook, row_hook
    if header_hook is not None:
        header_hook(stream.header)
    return stream.whole()


def read_bytes(
    name: str, data: bytes, *, import_map: ImportMap = NATIVE, encoding: str | None = None
) -> ImportFile:
    """A file's rows, `name` saying its format (.csv or .jsonl)."""
    return ImportStream(name, data, import_map=import_map, encoding=encoding).whole()


class ImportStream:
    """A file's lines read in batches of `batch` lines (each an ImportFile), as many times
    as asked: an import checks the whole file in one pass and writes it in a second, and
    holds one batch of rows at a time, never the file's rows (100,000 rows as dicts, then
    as checked rows, took 650 MB). The file's bytes are held (the file cannot change
    between the passes); its text is decoded again in each pass.

    Raises ImportFileError for a file that cannot be read at all: at once for a bad name,
    size, encoding or header; during a pass for a byte that is not the encoding's (the
    first pass, so before anything is written)."""

    def __init__(
        self,
        name: str,
        data: bytes,
        *,
        import_map: ImportMap = NATIVE,
        encoding: str | None = None,
        batch: int = 1000,
        history: bool = False,
    ):
        suffix = Path(name).suffix.lower()
        if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES:
            raise ImportFileError(
                f"{name}: use a .csv or .jsonl file (a spreadsheet: save it as CSV)"
            )
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; split it")
        self.name, self.data, self.map, self.encoding = name, data, import_map, encoding
        self.batch = batch
        self.history = history  # past decisions: no email needed (triage.server.suggest)
        self.header: list[str] = []
        # Told of each row once the Placement read it (read_csv's, after the check below)
        self.header_hook: Callable[[list[str]], None] | None = None
        self.row_hook: RowHook | None = None
        self.codec = _codec(encoding)
        self.jsonl = suffix in JSONL_SUFFIXES
        if self.jsonl and not import_map.native:
            raise ImportFileError(f"{name}: a map reads CSV files; JSON Lines has Triage's keys")
        self.updates_only = False
        self.placement: Placement | None = None
        # What makes the whole file unreadable is found now, before a database is opened:
        # a byte that is not the encoding's, a bad header, no row at all (the first batch
        # that has one is read; only a file of blank lines is read to its end).
        decode(name, data, encoding)
        if not self.jsonl:
            self.placement = self._placement()
            self.updates_only = self.placement.updates_only
        for part in self.batches():
            if part.count:
                break

    def whole(self) -> ImportFile:
        """Every batch in one ImportFile (an upload's rows, the tests' files)."""
        found = ImportFile(updates_only=self.updates_only)
        for part in self.batches():
            found.rows += part.rows
            found.labels += part.labels
            found.problems += part.problems
            found.skipped += part.skipped
        if not found.count:
            raise ImportFileError(f"{self.name}: no rows to import")
        return found

    def batches(self) -> Iterator[ImportFile]:
        """One pass over the file. A file with no row at all raises ImportFileError at
        its end."""
        count = 0
        for part in self._jsonl() if self.jsonl else self._csv():
            count += part.count
            yield part
        if not count:
            raise ImportFileError(f"{self.name}: no rows to import")

    def _text(self) -> io.TextIOWrapper:
        codec = "utf-8-sig" if self.codec == "utf-8" else self.codec
        return io.TextIOWrapper(io.BytesIO(self.data), encoding=codec, newline="")

    def _lines(self) -> Iterator[str]:
        """The text's lines as io splits them (at CR, LF and CRLF); a byte that is not the
        encoding's raises ImportFileError naming its line (decode says which)."""
        text = self._text()
        try:
            yield from text
        except UnicodeDecodeError:
            decode(self.name, self.data, self.encoding)
            raise  # decode raised ImportFileError: not reached

    def _placement(self) -> Placement:
        head = self.data[:65536].decode(
            "utf-8-sig" if self.codec == "utf-8" else self.codec, errors="replace"
        )
        self.delimiter = sniff_delimiter(head)
        reader = csv.reader(self._lines(), delimiter=self.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFileError(f"{self.name}: empty file") from None
        except csv.Error as exc:
            raise ImportFileError(f"{self.name}: line 1: {exc}") from None
        self.header = header
        return Placement.make(self.name, header, self.map, history=self.history)

    def _csv(self) -> Iterator[ImportFile]:
        assert self.placement is not None
        reader = csv.reader(self._lines(), delimiter=self.delimiter)
        next(reader)  # the header, placed already
        found = ImportFile(updates_only=self.updates_only)
        lines, seen = 0, 0
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
                if self.map.end_at_blank_line and seen + found.count:
                    break  # what follows is a report's footer, not data
                continue
            self.placement.read(f"line {start}", values, found)
            if self.row_hook is not None:
                self.row_hook(f"line {start}", values, found)
            lines += 1
            if lines >= self.batch:
                seen += found.count
                yield found
                found, lines = ImportFile(updates_only=self.updates_only), 0
        yield found

    def _jsonl(self) -> Iterator[ImportFile]:
        found = ImportFile()
        # the text whole, its lines as str.splitlines gives them (\x1c, \u2028 ... too)
        for n, raw in enumerate(decode(self.name, self.data, self.encoding).splitlines(), 1):
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
            if len(found.rows) + len(found.problems) >= self.batch:
                yield found
                found = ImportFile()
        yield found


def _codec(encoding: str | None) -> str:
    wanted = encoding or "utf-8"
    try:
        return codecs.lookup(wanted).name
    except LookupError:
        raise ImportFileError(
            f"unknown encoding {wanted!r} (e.g. utf-8, cp1252, latin-1)"
        ) from None


def decode(name: str, data: bytes, encoding: str | None) -> str:
    """The file's text: UTF-8 (a byte order mark dropped) unless `encoding` says otherwise."""
    codec = _codec(encoding)
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
    "ImportFile", "ImportFileError", "ImportStream", "MAX_IMPORT_BYTES", "decode", "open_file",
    "read_bytes", "read_file", "sniff_delimiter",
]  # fmt: skip
