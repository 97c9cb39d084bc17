"""`triage server import FILE [--map hubspot|salesforce|MAP.toml] [--dry-run] [--strict]
[--encoding ENC] [--owner EMAIL,...] [--on-duplicate link|skip|update]`, and
`triage server import --history FILE --map MAP.toml [--dry-run] [--encoding ENC]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from triage.server.importer import ImportFileError, open_file
from triage.server.maps import NATIVE, MapError, load_map
from triage.server.service import Backend, ImportOptions, ImportOutcome, RowProblems, ServiceError


def _say(message: str) -> None:
    print(f"triage server: {message}", file=sys.stderr)


def run(args: argparse.Namespace, backend: Callable[[], Backend]) -> int:
    """Exit 0 imported (or, with --dry-run, would import); 1 bad rows or an unreadable
    file (nothing imported); 2 a bad option (an unknown map or owner, a map's problem)."""
    if (args.file is None) == (args.history is None):
        _say("import: name a file, or a file of past decisions with --history FILE")
        return 2
    if args.history is not None:
        return _history(args, backend)
    try:
        import_map = load_map(args.map) if args.map else NATIVE
    except MapError as exc:
        _say(str(exc))
        return 2
    owners = tuple(e.strip() for e in (args.owner or "").split(",") if e.strip())
    options = ImportOptions(owners=owners, on_duplicate=args.on_duplicate)
    nothing = "nothing would be imported" if args.dry_run else "nothing was imported"
    try:
        # read in batches: one batch of rows held at a time
        found = open_file(args.file, import_map=import_map.strictly(args.strict),
                          encoding=args.encoding)  # fmt: skip
        done = backend().import_batches(
            found.batches(), options=options, updates_only=found.updates_only,
            dry_run=args.dry_run, progress=_progress if sys.stderr.isatty() else None,
        )  # fmt: skip
    except ImportFileError as exc:
        _say(f"{exc}; {nothing}")
        return 2 if "unknown encoding" in str(exc) else 1
    except RowProblems as exc:
        _say(f"{args.file}: {len(exc.problems)} bad row(s); {nothing}")
        for label, problems in exc.problems:
            print(f"  {label}: {'; '.join(problems)}", file=sys.stderr)
        return 1
    except ServiceError as exc:
        _say(f"{exc.detail}; {nothing}")
        return 2
    print(summary(str(args.file), done, dry_run=args.dry_run))
    for label, note in done.notes():
        print(f"  {label}: {note}")
    return 0


def _progress(done: int, total: int) -> None:
    """How far a large import has got, on one line of a terminal (cleared at the end)."""
    end = "\r\033[K" if done == total else "\r"
    print(f"written {done:,} of {total:,} rows", end=end, file=sys.stderr, flush=True)


def summary(name: str, done: ImportOutcome, *, dry_run: bool) -> str:
    counts = [f"{done.created} created", f"{done.updated} updated", f"{done.unchanged} unchanged"]
    for n, what in ((len(done.skipped), "skipped"), (len(done.linked), "possible duplicates"),
                    (len(done.recycled), "new cycles")):  # fmt: skip
        if n:
            counts.append(f"{n} {what}")
    if dry_run:
        return f"{name}: dry run, nothing written; would be {', '.join(counts)}"
    return f"{name}: {', '.join(counts)}"


def _history(args: argparse.Namespace, backend: Callable[[], Backend]) -> int:
    """`--history FILE --map MAP`: past decisions, read as `suggest evaluate --csv` reads
    them (triage.server.suggest.history), written by Backend.import_history."""
    from triage.server.suggest.history import HistoryError, read_history

    if not args.map:
        _say("import --history: --map MAP.toml is needed (its [history] names the outcome)")
        return 2
    if args.owner or args.on_duplicate != "link":
        _say("import --history: past decisions have no owner and link no duplicates "
             "(drop --owner and --on-duplicate)")  # fmt: skip
        return 2
    nothing = "nothing would be imported" if args.dry_run else "nothing was imported"
    try:
        import_map = load_map(args.map).strictly(args.strict)
        found = read_history(args.history, import_map, encoding=args.encoding)
        done = backend().import_history(found, dry_run=args.dry_run)
    except MapError as exc:
        _say(str(exc))
        return 2
    except HistoryError as exc:
        if not exc.problems:
            _say(f"{exc}; {nothing}")
            return 2 if "no [history]" in str(exc) or "unknown encoding" in str(exc) else 1
        return _bad_rows(args.history, exc.problems, nothing)
    except RowProblems as exc:
        return _bad_rows(args.history, exc.problems, nothing)
    print(summary(str(args.history), done, dry_run=args.dry_run))
    for label, note in done.notes():
        print(f"  {label}: {note}")
    return 0


def _bad_rows(name: object, problems: list, nothing: str) -> int:
    _say(f"{name}: {len(problems)} bad row(s); {nothing}")
    for label, found in problems:
        print(f"  {label}: {'; '.join(found)}", file=sys.stderr)
    return 1
