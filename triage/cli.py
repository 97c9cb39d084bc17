"""`triage ...`: the command line. Heavy modules are imported only by the command that needs them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from triage import __version__

SERVER_PORT = 8765


def _lazy(target: str) -> Any:
    """A handler named "module:function", imported when the command runs."""

    def run(args: argparse.Namespace) -> int:
        module, func = target.split(":")
        return getattr(importlib.import_module(module), func)(args)

    return run


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port: use 1-65535, or 0 for any free port"
        )
    return port


_UNITS = {"h": 1, "d": 24, "w": 24 * 7}


def _lifetime(text: str) -> timedelta:
    """A token's lifetime: a whole number of hours, days or weeks (36h, 90d, 12w)."""
    raw = text.strip().lower()
    number, unit = raw[:-1], raw[-1:]
    if unit not in _UNITS or not number.isdigit() or not 0 < int(number) <= 100_000:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a lifetime: use a whole number of hours, days or weeks (36h, 90d, 12w)"
        )
    return timedelta(hours=int(number) * _UNITS[unit])


def _overlap(text: str) -> timedelta:
    """A rotation's overlap: 0 (none), or a whole number of hours, days or weeks."""
    return timedelta(0) if text.strip() in ("0", "0h", "0d") else _lifetime(text)


def _server_parsers(sub: Any) -> None:
    server = sub.add_parser(
        "server",
        help="run and administer the shared backend",
        description="The shared backend: reps sync with it; marketing loads leads, "
        "sets the qualification policy and reads the feedback.",
    )
    ssub = server.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    # the order here is the order `triage server --help` lists them in
    _database_parsers(ssub)
    _run_parser(ssub)
    _account_parsers(ssub)
    _marketing_parsers(ssub)
    _server_command(ssub, "users", "users", "list users and their roles")


def _server_command(under: Any, name: str, func: str, help: str) -> argparse.ArgumentParser:
    """A `triage server ...` command: dispatched by triage.server.cli to `func`, on --db."""
    p = under.add_parser(name, help=help, description=help)
    p.add_argument(
        "--db",
        metavar="URL",
        help="database URL or file (default: $TRIAGE_SERVER_DB, else SQLite in the user data dir)",
    )
    p.set_defaults(func=_lazy("triage.server.cli:dispatch"), server_func=func)
    return p


def _server_group(ssub: Any, name: str, help: str) -> Any:
    """A group of server commands (`triage server token ...`); returns where to add them."""
    p = ssub.add_parser(name, help=help, description=help)
    return p.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def _expires_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--expires",
        type=_lifetime,
        metavar="AGE",
        help="the token stops working after this long: 90d, 12w, 36h (default: never)",
    )


def _database_parsers(ssub: Any) -> None:
    """The database's upkeep: migrate, backup, restore, prune."""
    p = _server_command(
        ssub,
        "migrate",
        "migrate",
        "create or upgrade the database's schema (run also does this, under a lock)",
    )
    p.add_argument(
        "--sql", action="store_true", help="print the SQL it would run instead of running it"
    )
    p = _server_command(
        ssub,
        "backup",
        "backup",
        "write a consistent copy of the database to a new file, while the server runs "
        "(SQLite: online backup; PostgreSQL: pg_dump)",
    )
    p.add_argument("file", help="the backup file to write (it must not exist)")
    p = _server_command(
        ssub,
        "restore",
        "restore",
        "put a backup in place of the database and mark the history as gone back "
        "(stop the servers first); reps' next syncs heal",
    )
    p.add_argument("file", help="a file written by `triage server backup`")
    p = _server_command(
        ssub,
        "prune",
        "prune",
        "drop change-log rows older than --keep-days (a rep with an older cursor refetches)",
    )
    p.add_argument(
        "--keep-days", type=int, default=90, metavar="N", help="days to keep (default 90)"
    )


def _run_parser(ssub: Any) -> None:
    """`triage server run`: serve HTTP, and where it listens and is reached."""
    p = _server_command(
        ssub, "run", "run", "serve sync protocol v1 over HTTP (migrates the schema first)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=_port,
        default=SERVER_PORT,
        help=f"port (default {SERVER_PORT}; 0: any free port, announced when bound)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="no access log (by default one JSON line a request on stderr, with a request id; "
        "never a header or a query string)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="the address people reach this server at (https://... makes the workspace's "
        "cookies Secure); shown at start",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="trust X-Forwarded-Proto and X-Forwarded-For only from these proxy addresses "
        "(comma-separated; default: trust no proxy)",
    )


def _account_parsers(ssub: Any) -> None:
    """Users and their tokens: signin-code, add-user, token ..., user ..."""
    p = _server_command(ssub, "signin-code", "signin_code", "a single-use code (10 minutes) "
                        "that signs a marketing user in to the workspace; prints it last")  # fmt: skip
    p.add_argument("email")
    p = _server_command(
        ssub, "add-user", "add_user", "create a user and their first token; prints the token last"
    )
    p.add_argument("email")
    p.add_argument("--name", help="display name (default: the part of the email before @)")
    p.add_argument("--role", choices=["rep", "marketing"], default="rep")
    _expires_option(p)
    _token_parsers(_server_group(ssub, "token", "list, revoke and rotate users' tokens"))
    _user_parsers(
        _server_group(ssub, "user", "deactivate or activate a user, or change their role")
    )


def _token_parsers(tokens: Any) -> None:
    """`triage server token list|revoke|rotate`."""
    p = _server_command(
        tokens, "list", "token_list", "list tokens (id, user, created, last used; never the secret)"
    )
    p.add_argument("email", nargs="?", help="only this user's tokens")
    p = _server_command(
        tokens, "revoke", "token_revoke", "revoke a token by its id, or every token of a user"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the token's id (from `token list`)")
    which.add_argument("--user", metavar="EMAIL", help="revoke every token of this user")
    p = _server_command(
        tokens,
        "rotate",
        "token_rotate",
        "a new token for a user, their old ones revoked; prints it last",
    )
    p.add_argument("email")
    _expires_option(p)


def _user_parsers(user: Any) -> None:
    """`triage server user deactivate|activate|role`."""
    p = _server_command(
        user,
        "deactivate",
        "user_deactivate",
        "refuse every token of a user at once (their leads stay assigned)",
    )
    p.add_argument("email")
    p = _server_command(
        user, "activate", "user_activate", "let a deactivated user's live tokens work again"
    )
    p.add_argument("email")
    p = _server_command(user, "role", "user_role", "change a user's role")
    p.add_argument("email")
    p.add_argument("role", choices=["rep", "marketing"])


def _marketing_parsers(ssub: Any) -> None:
    """Marketing ops' jobs: load leads, assign them, set the policy, read the feedback."""
    p = _server_command(
        ssub, "import", "import_file", "load leads from a .csv or .jsonl file (all or nothing)"
    )
    _import_options(p)
    p = _server_command(ssub, "assign", "assign", "assign a lead (id or external_id) to a rep")
    p.add_argument("lead_id")
    p.add_argument("email")
    p.add_argument(
        "--force",
        action="store_true",
        help="reassign a decided lead: it reopens for the new owner, its decision moves to its history",
    )
    p = _server_command(
        ssub, "policy", "policy", "set the qualification policy from a TOML file, or print it"
    )
    p.add_argument(
        "file", nargs="?", type=Path, help="policy TOML; without it the current policy is printed"
    )
    p = _server_command(
        ssub, "report", "report", "acceptance and reasons by campaign, source or rep"
    )
    p.add_argument("--by", choices=["campaign", "source", "rep"], default="campaign")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _export_parser(ssub)
    _suggest_parsers(ssub)


def _suggest_parsers(ssub: Any) -> None:
    """`triage server suggest train|evaluate|rescore`: the model of the team's decisions."""
    about = "a model of the team's own decisions: train it, measure it"
    group = ssub.add_parser("suggest", help=about, description=about).add_subparsers(
        dest="suggest_command", metavar="COMMAND", required=True
    )
    for name, help in (
        ("train", "learn from the decisions in the database and keep the model there"),
        ("evaluate", "train on 75%% of the decisions, test on the rest; print the figures "
                     "as JSON (--csv: a file of past decisions, through --map)"),
        ("rescore", "make the open, assigned leads' suggestions again with the latest model "
                    "(each changed one is sent to its rep)"),
    ):  # fmt: skip
        p = _server_command(group, name, "suggest", help)
        if name == "evaluate":
            p.add_argument("--csv", metavar="FILE", help="past decisions from a CRM's file")
            p.add_argument(
                "--map", metavar="MAP.toml", help="the import map of --csv, with its [history]"
            )
            p.add_argument("--encoding", help="the file's encoding (default UTF-8)")


def _export_parser(ssub: Any) -> None:
    """`server export`: the decisions of some days, as a file a CRM's import reads."""
    p = _server_command(
        ssub, "export", "export", "write the decisions made in some days as a file for a CRM's "
        "import (HubSpot, Salesforce) or as Triage's own record (CSV, JSON Lines)",
    )  # fmt: skip
    p.add_argument("--since", required=True, metavar="DATE", help="the first day (2026-11-01), "
                   "in the policy's time zone")  # fmt: skip
    p.add_argument("--until", metavar="DATE", help="the last day, included (default: today)")
    p.add_argument("--format", required=True, choices=["hubspot", "salesforce", "csv", "jsonl"])
    p.add_argument("--map", metavar="MAP.toml", help="a CRM format's columns and values from "
                   "this map ([export], [outcomes], [reasons]) instead of the preset's")  # fmt: skip
    p.add_argument("--out", metavar="FILE", help="write the file here (default: stdout)")


def _import_options(p: argparse.ArgumentParser) -> None:
    """`server import`: a CRM export through a map, checked first if asked, given to reps."""
    p.add_argument("file", type=Path, nargs="?")
    p.add_argument(
        "--history", metavar="FILE", type=Path, help="a CRM's file of past decisions (needs "
        "--map with a [history] section): leads decided before Triage, no owner, no email "
        "needed, for the model to learn from",
    )  # fmt: skip
    p.add_argument(
        "--map",
        metavar="hubspot|salesforce|MAP.toml",
        help="read a CRM export: a HubSpot contacts export, a Salesforce Leads report, or a "
        "map file (columns to fields); without it the file has Triage's own columns",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="say what would be created, updated, unchanged "
        "and every problem by line; write nothing",
    )  # fmt: skip
    p.add_argument(
        "--strict", action="store_true", help="refuse columns the map does not place (by "
        "default they become the leads' attributes)",
    )  # fmt: skip
    p.add_argument(
        "--encoding", metavar="ENC", help="the file's encoding (default UTF-8, with or without "
        "a byte order mark), e.g. cp1252",
    )  # fmt: skip
    p.add_argument(
        "--owner", metavar="EMAIL[,EMAIL...]", help="give new leads whose row names no owner "
        "to these reps, in turn",
    )  # fmt: skip
    p.add_argument(
        "--on-duplicate", choices=["link", "skip", "update"], default="link",
        help="a new lead with the email of an open lead: link it to that lead (default), "
        "skip the row, or update that lead with it",
    )  # fmt: skip


WEBHOOK_EVENTS = "lead.decided, lead.reopened, lead.assigned, lead.nurture_due"


def _webhook_parsers(sub: Any) -> None:
    """`triage server webhook ...`, beside the other server commands."""
    server = sub.choices["server"]
    (ssub,) = [a for a in server._actions if isinstance(a, argparse._SubParsersAction)]
    about = "events out to marketing's systems: signed POSTs, retried for 24 h, in order"
    hooks = ssub.add_parser("webhook", help=about, description=about).add_subparsers(
        dest="webhook_command", metavar="COMMAND", required=True
    )

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        p = hooks.add_parser(name, help=help, description=help)
        p.add_argument("--db", metavar="URL", help="database URL or file (as `server run`)")
        p.set_defaults(func=_lazy("triage.server.cli:dispatch"), server_func="webhook")
        return p

    p = cmd("add", "send events to URL (https, or http to loopback); prints the signing "
            "secret last, once")  # fmt: skip
    p.add_argument("url")
    p.add_argument("--events", action="append", metavar="TYPE[,TYPE]",
                   help=f"only these (default: all of {WEBHOOK_EVENTS})")  # fmt: skip
    cmd("list", "the webhooks, their state and what waits (never the secret)")
    p = cmd("remove", "stop sending to a webhook; its undelivered events are dropped")
    p.add_argument("id", type=int)
    p = cmd("test", "send a signed webhook.test event now and show the answer")
    p.add_argument("id", type=int)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    p = cmd("deliveries", "a webhook's latest events and how each delivery went")
    p.add_argument("id", type=int)
    p.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    p = cmd("redeliver", "send an event again (and resume a failing webhook from it)")
    p.add_argument("event_id")
    p.add_argument("--webhook", type=int, metavar="ID", help="to this webhook only")
    p = cmd("rotate", "a new signing secret (printed last, once); the old one signs too "
            "for the overlap")  # fmt: skip
    p.add_argument("id", type=int)
    p.add_argument("--overlap", type=_overlap, default=timedelta(hours=24), metavar="AGE",
                   help="how long deliveries carry both signatures: 0, or hours, days or "
                   "weeks (default 24h, at most 30d)")  # fmt: skip
    p = cmd("prune", "delete events delivered long ago (never one not delivered); the "
            "server does it too, hourly, for those delivered 30 days ago")  # fmt: skip
    p.add_argument(
        "--older-than",
        type=_lifetime,
        default=timedelta(days=30),
        metavar="AGE",
        help="delivered longer ago than this: hours, days or weeks (default 30d)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Clear your queue of Marketing Qualified Leads at keyboard speed, online or "
        "not. Without a command, opens the workstation (the TUI) on your local queue.",
        epilog="Exit status: 0 success; 1 failure (for sync: failed, or changes still "
        "pending); 2 usage or configuration error; 3 sync only: synced, but conflicts need "
        "you (`triage conflicts`).",
    )
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from triage.commands import add_parsers

    add_parsers(sub, _lazy)
    _server_parsers(sub)
    _webhook_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # plain `triage`: the workstation itself
        args.func = _lazy("triage.commands:tui")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `triage queue | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
