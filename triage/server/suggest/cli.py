"""`triage server suggest train`, `triage server suggest evaluate [--csv FILE --map
MAP.toml]` and `triage server suggest rescore` (run through triage.server.cli, which opens the database and reports its
errors; the backend is handed in: triage.server.services imports this package's store).
Exit 0 done; 1 too few decisions or bad rows (nothing written); 2 a bad option
(a map that cannot be used, --csv without --map)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from triage.server.maps import MapError, load_map
from triage.server.suggest import scoring, store
from triage.server.suggest.evaluate import TooFew, enough, evaluate
from triage.server.suggest.history import HistoryError, read_history
from triage.server.suggest.train import train


def _say(message: str) -> None:
    print(f"triage server: {message}", file=sys.stderr)


def run(args: argparse.Namespace, backend: Callable[[], Any]) -> int:
    try:
        if args.suggest_command == "train":
            return _train(backend())
        if args.suggest_command == "rescore":
            return _rescore(backend())
        return _evaluate(args, backend)
    except TooFew as exc:
        _say(f"{exc}; nothing {'trained' if args.suggest_command == 'train' else 'evaluated'}")
        return 1


def _train(backend: Any) -> int:
    with backend.db.read() as s:
        decisions = store.decisions(s)
    enough(decisions, "training")
    done = train(backend.db, decisions)
    print(json.dumps(done, indent=2))
    return 0


def _rescore(backend: Any) -> int:
    done = scoring.rescore(backend.db)
    if done["model"] is None:
        _say("no model to score with: run `triage server suggest train`; nothing changed")
        return 1
    print(json.dumps(done, indent=2))
    return 0


def _evaluate(args: argparse.Namespace, backend: Callable[[], Any]) -> int:
    if args.csv is None:
        if args.map:
            _say("--map reads the file of --csv; without --csv the database is evaluated")
            return 2
        db = backend()
        with db.db.read() as s:
            decisions = store.decisions(s)
        source: dict = {"source": "database", "database": db.db.shown_url}
        by_time = False  # stratified, as the issue asks; a file's map may ask for time order
    else:
        if not args.map:
            _say("--csv needs --map: the import map of the file, with its [history] section")
            return 2
        try:
            import_map = load_map(args.map)
        except MapError as exc:
            _say(str(exc))
            return 2
        if import_map.history is None:
            _say(f"{args.map}: the map has no [history] section: name the column of each "
                 'row\'s outcome, e.g. [history] outcome = "Converted", accept = ["1"], '
                 'reject = ["0"]')  # fmt: skip
            return 2
        try:
            found = read_history(args.csv, import_map, encoding=args.encoding)
        except HistoryError as exc:
            _say(str(exc))
            return 1
        decisions, by_time = found.decisions, found.dated
        source = {"source": args.csv, "map": args.map, "skipped": found.skipped}
    figures = {**source, **evaluate(decisions, by_time=by_time)}
    for warning in figures["warnings"]:
        _say(f"warning: {warning}")
    print(json.dumps(figures, indent=2))
    return 0
