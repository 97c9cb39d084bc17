"""`triage server export --since DATE [--until DATE] --format hubspot|salesforce|csv|jsonl
[--map MAP.toml] [--out FILE]`: the decisions made in those days, as a file (triage.server.exports)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from triage.server.exports import ExportError, export
from triage.server.service import Backend


def _say(message: str) -> None:
    print(f"triage server: {message}", file=sys.stderr)


def run(args: argparse.Namespace, backend: Callable[[], Backend]) -> int:
    """The file on stdout, or in --out; what it holds on stderr. Exit 2 for a bad option
    (a date, a format, a map), 1 when --out cannot be written."""
    try:
        made = export(backend(), args.format, args.since, args.until, map_spec=args.map)
    except ExportError as exc:
        _say(str(exc))
        return 2
    where = "stdout"
    if args.out:
        try:
            Path(args.out).write_text(made.text, encoding="utf-8", newline="")
        except OSError as exc:
            _say(f"{args.out}: cannot write: {exc.strerror or exc}")
            return 1
        where = str(args.out)
    else:
        sys.stdout.write(made.text)
        sys.stdout.flush()
    p = made.period
    _say(f"{made.count} decision(s) made {p.start} to {p.end} ({p.tz}), {made.format} format, "
         f"written to {where}")  # fmt: skip
    return 0
