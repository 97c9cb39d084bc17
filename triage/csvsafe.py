"""The one rule for CSV cells that Triage writes, and its inverse for what it imports.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a
carriage return) as a formula: a campaign named `=HYPERLINK("http://evil.example","Q4")`
in an export becomes a link on marketing's screen. OWASP's rule: put a `'` in front of
such a cell; the spreadsheet then shows the text as it is.

`cell` adds that `'`; `uncell` (Triage's importer) drops it again, so a CSV Triage wrote
imports unchanged. A value that itself starts with apostrophes before a formula character
(`'=x`) gets one more, so the pair is exact for every string; a person's own apostrophe
(`O'Brien`, `'tis`) is left alone both ways. Numbers are not text and stay as they are.

Stdlib only: every CSV writer of Triage uses this, the client's included.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _risky(text: str) -> bool:
    """Whether a spreadsheet would run `text`, or `uncell` would take it for a quoted cell."""
    return text.lstrip("'").startswith(FORMULA_STARTS)


def cell(value: Any) -> Any:
    """`value` as a CSV cell that no spreadsheet runs as a formula (non-text unchanged)."""
    if isinstance(value, str) and _risky(value):
        return "'" + value
    return value


def uncell(text: str) -> str:
    """A cell as `cell` wrote it, back to its value."""
    if text.startswith("'") and _risky(text[1:]):
        return text[1:]
    return text


def row(values: Iterable[Any]) -> list[Any]:
    return [cell(v) for v in values]


class _Writer:
    def __init__(self, inner: Any):
        self._inner = inner

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._inner.writerow(row(values))


def writer(file: Any, **kwargs: Any) -> _Writer:
    """`csv.writer(file, **kwargs)` whose every cell goes through `cell`.

    Rows end in CRLF (RFC 4180), the csv module's default: with a bare "\n" ending the
    module leaves a "\r" inside a value unquoted, and every reader splits the row there.
    """
    return _Writer(csv.writer(file, **kwargs))
