"""The client commands: login, sync, status, queue, decide. Scriptable: `--json` where it helps,
exit 0 only on success, every refusal a clear message on stderr with nothing changed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from triage import domain
from triage.config import (
    ConfigError,
    Paths,
    Settings,
    check_server_url,
    load_settings,
    paths_from_env,
)
from triage.store import ActionError, Store, StoreError

EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_CONFLICTS = 3  # `triage sync`: synced, but unresolved conflicts need the rep


class CommandError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAIL):
        super().__init__(message)
        self.message = message
        self.code = code


def _err(message: str) -> None:
    print(f"triage: {message}", file=sys.stderr)


def run(func: Any, args: argparse.Namespace) -> int:
    try:
        return func(args)
    except CommandError as exc:
        _err(exc.message)
        return exc.code
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except StoreError as exc:
        _err(str(exc))
        return EXIT_FAIL


def _paths() -> Paths:
    return paths_from_env()


def _settings(paths: Paths) -> Settings:
    return load_settings(paths)


def _store_path(paths: Paths) -> Path:
    """The queue of the server and rep of the last login (see config.store_name)."""
    return load_settings(paths).db_path(paths)


def _open_store(paths: Paths) -> Store:
    return Store.open(_store_path(paths))


# ---------------------------------------------------------------- login


def login(args: argparse.Namespace) -> int:
    return run(_login, args)


def _login(args: argparse.Namespace) -> int:
    from triage.config import save_login
    from triage.sync.client import ApiClient, SyncError

    url = check_server_url(args.server, args.insecure)
    token = args.token
    if token not in (None, "-"):
        _err(
            "warning: a token on the command line is visible to other users of this machine "
            "(ps) and may stay in your shell history; use `--token -` (stdin) or the prompt"
        )
    if token is None or token == "-":
        token = sys.stdin.readline() if token == "-" or not sys.stdin.isatty() else _prompt_token()
    token = (token or "").strip()
    if not token:
        raise CommandError(
            "no token given (paste it at the prompt, or pipe it to `--token -`)", EXIT_USAGE
        )
    try:
        with ApiClient(url, token) as client:
            me = client.me()
            try:
                server_id = client.health().server_id  # an older server has none
            except SyncError:
                server_id = None
    except SyncError as exc:
        raise CommandError(f"login failed, nothing saved: {exc.message}") from None
    if me.role != domain.Role.REP:
        raise CommandError(
            f"{me.email} is a {me.role} user; the triage client is for reps. Nothing saved."
        )
    paths = _paths()
    settings = load_settings(paths)
    before = settings.db_path(paths)
    store_rel = _queue_for(paths, settings, url, server_id, me.email)
    after = paths.data_dir / store_rel if store_rel else paths.db_file
    # Each server and rep has a queue of its own: a login elsewhere never touches the
    # queue of another (its unsent work waits there until you log in there again).
    store = Store.open(after)
    try:
        store.set_me(me.email, me.name, me.role)
        store.remember_server(server_id, None)
        pending_here = store.pending_counts()
    finally:
        store.close()
    save_login(paths, url, token, args.insecure, store=store_rel)
    print(
        f"logged in to {url} as {me.name} <{me.email}>; the token is in {paths.token_file} (0600)"
    )
    print(f"your queue: {after}" + (f" ({pending_here.describe('waiting to be sent')})"
                                    if pending_here.total else ""))  # fmt: skip
    if before != after and before.exists():
        left = _pending_in(before)
        if left:
            _err(
                f"the queue you were using ({before}) keeps {left}; they go out when you "
                "log in there again"
            )
    print("next: `triage sync` to fetch your queue, then `triage` to work it")
    return 0


def _queue_for(
    paths: Paths, settings: Settings, url: str, server_id: str | None, email: str
) -> str | None:
    """The queue of this server and rep, relative to the data directory. None keeps the
    single triage.db of an installation from before per-server queues, when it is theirs."""
    from triage.config import store_name

    if settings.store is None and paths.db_file.exists():
        try:
            with Store.open(paths.db_file) as legacy:
                me, state = legacy.me(), legacy.sync_state()
        except StoreError:
            me, state = None, None
        same_server = state is not None and (
            state.server_id == server_id
            if state.server_id and server_id
            else (settings.server_url or "").rstrip("/") == url.rstrip("/")
        )
        if me and me.get("email") == email and same_server:
            return None
    return store_name(url, server_id, email)


def _pending_in(path: Path) -> str:
    try:
        with Store.open(path) as other:
            counts = other.pending_counts()
    except StoreError:
        return ""
    return counts.describe("not sent yet") if counts.total else ""


def _prompt_token() -> str:
    import getpass

    return getpass.getpass("token: ")


# ---------------------------------------------------------------- sync


def sync(args: argparse.Namespace) -> int:
    return run(_sync, args)


def _sync(args: argparse.Namespace) -> int:
    from triage.sync.runner import run_once

    paths = _paths()
    settings = _settings(paths)
    report = run_once(
        settings.db_path(paths), settings.server_url, settings.token, insecure=settings.insecure,
        timeout=args.timeout, on_wait=_err,
    )  # fmt: skip
    store = _open_store(paths)
    try:
        unresolved = store.status().conflicts
    finally:
        store.close()
    # Precedence: anything failed or unsent (1) before conflicts to look at (3).
    if not report.ok or report.pending:
        code = EXIT_FAIL
    elif unresolved:
        code = EXIT_CONFLICTS
    else:
        code = 0
    if args.json:
        print(json.dumps({"ok": report.ok, "pushed": report.pushed, "applied": report.applied,
                          "conflicts": report.conflicts, "pulled": report.pulled,
                          "revoked": report.revoked, "pending": report.pending,
                          "pending_decisions": report.pending_decisions,
                          "pending_answers": report.pending_answers,
                          "unresolved_conflicts": unresolved,
                          "error": report.error}))  # fmt: skip
        return code
    if not report.ok:
        _err(report.summary())
        if report.timed_out:
            _err(f"`triage sync --timeout SECONDS` gives it longer than {args.timeout:g} s")
        return code
    print(report.summary())
    if report.pending:
        _err(f"{report.pending_counts.describe('still pending')}: run `triage sync` again")
    elif unresolved:
        needs = "1 conflict needs" if unresolved == 1 else f"{unresolved:,} conflicts need"
        _err(f"synced, but {needs} you: `triage conflicts` lists them")
    return code


# ---------------------------------------------------------------- status


def status(args: argparse.Namespace) -> int:
    return run(_status, args)


def _status(args: argparse.Namespace) -> int:
    paths = _paths()
    settings = _settings(paths)
    store = _open_store(paths)
    try:
        st = store.status()
        me = store.me()
        state = store.sync_state()
        pending = store.pending_counts()
    finally:
        store.close()
    data = {
        "server": settings.server_url,
        "user": me.get("email") if me else None,
        "queue": str(settings.db_path(paths)),
        "pending": pending.total,
        "pending_decisions": pending.decisions,
        "pending_answers": pending.answers,
        "conflicts": st.conflicts,
        "open": st.open,
        "decided_today": st.decided_today,
        "last_sync": domain.format_time(st.last_sync),
        "last_error": st.last_error,
        "cursor": state.cursor,
    }
    if args.json:
        print(json.dumps(data))
        return 0
    last = st.last_sync.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if st.last_sync else "never"
    lines = [
        ("server", data["server"] or "(not logged in: triage login --server URL)"),
        ("user", data["user"] or "-"),
        ("queue", data["queue"]),
        ("open", st.open),
        ("pending", f"{pending.total} ({pending.parts()})" if pending.total else 0),
        ("conflicts", st.conflicts),
        ("decided today", st.decided_today),
        ("last sync", last),
    ]
    if st.last_error:
        lines.append(("last error", st.last_error))
    for label, value in lines:
        print(f"{label:<14} {value}")
    return 0


# ---------------------------------------------------------------- queue


def queue(args: argparse.Namespace) -> int:
    return run(_queue, args)


def _score(score: int | None) -> str:
    return "-" if score is None else str(score)


def _queue(args: argparse.Namespace) -> int:
    flt = domain.parse_filter(" ".join(args.filter or []))
    if flt.errors:
        raise CommandError("bad filter: " + "; ".join(flt.errors), EXIT_USAGE)
    paths = _paths()
    store = _open_store(paths)
    try:
        total = store.queue_count(flt)
        limit = args.limit if args.limit is not None else (total if args.json else 50)
        sort = f"-{args.sort}" if args.reverse else args.sort  # the store's reversed sort
        rows = store.queue_page(flt, sort, 0, limit)
        sla = store.policy().sla_hours
    finally:
        store.close()
    now = domain.utcnow()
    if args.json:
        out = [
            {
                "id": r.id,
                "name": r.name,
                "title": r.title,
                "company": r.company,
                "source": r.source,
                "campaign": r.campaign,
                "score": r.score,
                "mql_at": domain.format_time(r.mql_at),
                "sla_started_at": domain.format_time(r.sla_at),
                "status": r.status,
                "bant": dict(zip(domain.BANT_KEYS, r.bant, strict=True)),
                "age_hours": round(domain.age_hours(r.sla_at, now), 1),
                "pending": r.pending,
            }  # fmt: skip
            for r in rows
        ]
        print(json.dumps(out))
        if len(rows) < total:
            print(f"-- {len(rows)} of {total} lead(s) (--limit)", file=sys.stderr)
        return 0
    glyph = {"yes": "✓", "no": "✗"}
    for r in rows:
        age = domain.age_hours(r.sla_at, now)
        flag = "!" if domain.past_sla(age, sla) else " "
        bant = "".join(glyph.get(a, "·") for a in r.bant)
        name, company, source, campaign = (
            domain.terminal_text(v or "-") for v in (r.name, r.company, r.source, r.campaign)
        )  # the store holds clean text already; a table cell is checked once more
        print(
            f"{r.id:<13} {_score(r.score):>3} {bant} {age:>6.1f}h{flag} {name[:24]:<24} "
            f"{company[:20]:<20} {source}/{campaign}"
        )
    shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
    print(f"-- {shown} lead(s); ! = past the {sla:g} h SLA", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- reasons


def reasons(args: argparse.Namespace) -> int:
    return run(_reasons, args)


def _reasons(args: argparse.Namespace) -> int:
    store = _open_store(_paths())
    try:
        policy = store.policy()
    finally:
        store.close()
    if args.json:
        print(json.dumps(policy.to_dict()))
        return 0
    print(f"qualification policy version {policy.version}; SLA {policy.sla_hours:g} h")
    for outcome, items in (("reject", policy.reject_reasons), ("nurture", policy.nurture_reasons)):
        print(f"\n{outcome} --reason CODE")
        for r in items:
            extra = " (needs --note)" if r.note_required else ""
            print(f"  {r.code:<24} {r.label}{extra}")
    return 0


# ---------------------------------------------------------------- conflicts


def conflicts(args: argparse.Namespace) -> int:
    return run(_conflicts, args)


def _tried(mutation: dict[str, Any], policy: domain.Policy) -> str:
    """What the rep tried: `reject · No budget · “note”`, `BANT budget=yes`, `undo (reopen)`."""
    kind = mutation.get("type")
    if kind == "decide":
        outcome = str(mutation.get("outcome") or "decide")
        parts = [outcome]
        if mutation.get("reason"):
            try:
                known = policy.reason(outcome, str(mutation["reason"]))
            except ValueError:
                known = None
            parts.append(known.label if known is not None else str(mutation["reason"]))
        if mutation.get("note"):
            parts.append(f"“{mutation['note']}”")
        if mutation.get("nurture_until"):
            parts.append(f"until {mutation['nurture_until']}")
        return " · ".join(parts)
    if kind == "bant":
        answers = mutation.get("bant") or {}
        return "BANT " + ", ".join(f"{k}={v}" for k, v in answers.items())
    if kind == "reopen":
        return "undo (reopen)"
    return str(kind)


def _local_time(text: Any) -> str:
    try:
        return domain.parse_time(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return "-"


def _conflicts(args: argparse.Namespace) -> int:
    store = _open_store(_paths())
    try:
        entries = store.conflicts()
        policy = store.policy()
        external = {}
        for e in entries:
            lead = e.server_lead or store.lead(e.lead_id)
            external[e.id] = lead.external_id if lead is not None else None
    finally:
        store.close()
    rows = [
        {
            "id": e.id,
            "lead_id": e.lead_id,
            "external_id": external[e.id],
            "lead_name": e.lead_name or (e.server_lead.name if e.server_lead else None),
            "status": e.status,
            "error": e.error,
            "explanation": domain.explain_refusal(e.status, e.error),
            "tried": {
                k: e.mutation.get(k)
                for k in ("type", "outcome", "reason", "note", "bant", "nurture_until")
            },
            "at": e.mutation.get("at"),  # when the rep made the change (the rep's clock)
            "recorded_at": domain.format_time(e.created_at),  # when the refusal came back
        }
        for e in entries
    ]
    if args.json:
        print(json.dumps(rows))
        return 0
    for row, e in zip(rows, entries, strict=True):
        ids = ", ".join(i for i in (row["lead_id"], row["external_id"]) if i)
        # the store holds clean text already (domain.clean_lead); a terminal line is
        # checked once more, as the queue's table does
        name = domain.terminal_text(row["lead_name"] or "(a lead no longer on this machine)")
        print(f"#{row['id']:<4} {_local_time(row['at'])}  {name} ({domain.terminal_text(ids)})")
        print(f"      tried:  {domain.terminal_text(_tried(e.mutation, policy))}")
        print(f"      server: {row['explanation']}")
    if rows:
        n = "1 conflict" if len(rows) == 1 else f"{len(rows):,} conflicts"
        print(
            f"-- {n}; in the workstation (`triage`), `c` shows them: open a lead to decide "
            "it again, `d` dismisses",
            file=sys.stderr,
        )
    else:
        print("-- no conflicts to review", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- decide


def decide(args: argparse.Namespace) -> int:
    return run(_decide, args)


def _parse_until(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return domain.parse_nurture_until(text, datetime.now().astimezone().date())
    except ValueError as exc:
        raise CommandError(f"--until: {exc}", EXIT_USAGE) from None


def _decide(args: argparse.Namespace) -> int:
    ids = _lead_ids(args.lead_ids)
    until = _parse_until(args.until)
    if until is not None and args.outcome != "nurture":
        raise CommandError("--until goes with nurture only", EXIT_USAGE)
    paths = _paths()
    store = _open_store(paths)
    try:
        known = store.resolve_ids(ids)  # a lead id, or the marketing system's (HS-2011)
        result = store.decide(
            [known.get(i, i) for i in ids], args.outcome, reason=args.reason, note=args.note,
            nurture_until=until, at=datetime.now().astimezone(),
        )  # fmt: skip
        pending = store.pending_count()
    except ActionError as exc:  # its message names the known reasons where that helps
        raise CommandError(f"{exc.message}; nothing changed") from None
    finally:
        store.close()
    verb = {"accept": "accepted", "reject": "rejected", "nurture": "returned to nurture"}[
        args.outcome
    ]
    why = f" ({args.reason})" if args.reason else ""
    print(f"{verb} {result.count} lead(s){why}; {pending} pending, `triage sync` sends them")
    return 0


def reopen(args: argparse.Namespace) -> int:
    return run(_reopen, args)


def _reopen(args: argparse.Namespace) -> int:
    ids = _lead_ids(args.lead_ids)
    store = _open_store(_paths())
    try:
        known = store.resolve_ids(ids)
        result = store.reopen([known.get(i, i) for i in ids])
        pending = store.pending_count()
    except ActionError as exc:
        raise CommandError(f"{exc.message}; nothing changed") from None
    finally:
        store.close()
    print(f"reopened {result.count} lead(s); {pending} pending, `triage sync` sends them")
    return 0


def _lead_ids(given: list[str]) -> list[str]:
    """The LEAD_ID arguments, or with `-` the ids on stdin, one per line."""
    ids = list(given)
    if ids == ["-"]:
        ids = [line.strip() for line in sys.stdin if line.strip()]
    if not ids:
        raise CommandError("no lead ids given", EXIT_USAGE)
    return ids


# ---------------------------------------------------------------- the TUI


def tui(args: argparse.Namespace) -> int:
    return run(_tui, args)


def _tui(args: argparse.Namespace) -> int:
    paths = _paths()
    settings = _settings(paths)
    db_path = settings.db_path(paths)
    store = Store.open(db_path)
    try:
        from triage.app import make_app

        app = make_app(
            store=store, settings=settings, db_path=db_path,
            logged_in_queue=_login_watch(paths),
        )  # fmt: skip
        app.run()
        left = store.pending_counts()
    finally:
        store.close()
    if app.switched_to is not None:
        _err(
            f"you logged in elsewhere in another terminal: this window's queue ({db_path}) "
            f"is no longer the one in use ({app.switched_to}). Its work is saved"
            + (f": {left.describe('not sent yet')}, sent when you log in there again" if
               left.total else "")
            + ". Start `triage` again for the queue you logged in to."
        )  # fmt: skip
    if app.return_code:
        _err("the workstation stopped with an error; every decision it showed is saved locally")
    return app.return_code or 0


def _login_watch(paths: Paths) -> Callable[[], Path | None]:
    """The queue config.toml now points to, read again only when the file changes (a stat
    a second, from the TUI's timer)."""
    seen: list[Any] = [None, None]  # (mtime of config.toml, its queue)

    def current() -> Path | None:
        try:
            mtime = paths.config_file.stat().st_mtime_ns
        except OSError:
            mtime = None
        if mtime != seen[0]:
            seen[0] = mtime
            try:
                seen[1] = load_settings(paths).db_path(paths)
            except ConfigError:
                pass  # a config being written, or broken: keep what it said before
        return seen[1]

    return current


# ---------------------------------------------------------------- parser


def _limit(text: str) -> int:
    """argparse type of --limit: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _seconds(text: str) -> float:
    """argparse type of --timeout: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def add_parsers(sub: Any, lazy: Any) -> None:
    """The client's commands (the server's are triage.cli._server_parsers)."""
    for add in (_demo_and_login, _sync_and_status, _queue_and_decide):
        add(sub, lazy)


def _demo_and_login(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole loop on this machine: a demo server, 200 leads, the TUI",
        description="Start a real server in-process on a free loopback port with its own data "
        "directory, load about 200 realistic MQLs, sign a demo rep in and open the TUI. "
        "Each run starts fresh.",
    )
    p.add_argument("--leads", type=int, default=200, help="how many demo leads (default 200)")
    p.add_argument("--dir", help="data directory (default: <user data dir>/demo)")
    p.set_defaults(func=lazy("triage.demo:run"))

    p = sub.add_parser(
        "login",
        help="connect to a server with your token (checked before it is saved)",
        description="Ask for the token (a prompt that does not echo it; `--token -` reads it "
        "from stdin instead), check it against the server (/v1/me), then save the server URL "
        "in config.toml and the token in a 0600 file. Plain http is refused for a host "
        "that is not this machine unless --insecure.",
    )
    p.add_argument("--server", required=True, metavar="URL", help="e.g. https://triage.example.com")
    p.add_argument(
        "--token",
        metavar="-",
        help="`--token -` reads the token from stdin (without --token: a prompt asks for it)",
    )
    p.add_argument(
        "--insecure", action="store_true", help="allow plain http to a non-loopback host"
    )
    p.set_defaults(func=lazy("triage.commands:login"))


def _sync_and_status(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "sync",
        help="push your decisions, pull your queue",
        description="Push every pending change (decisions and BANT answers), then pull changes; "
        "nothing pending is ever lost. Exit status: 0 when everything was pushed and pulled "
        "and no conflict waits; 1 when the sync failed or changes are still pending; 2 for a "
        "usage or configuration error; 3 when it synced but conflicts need you (`triage "
        "conflicts` lists them). A failure or pending change (1) wins over conflicts (3).",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="give up after this long, keeping everything for the next sync (default 60); "
        "stderr says what it is waiting for",
    )
    p.set_defaults(func=lazy("triage.commands:sync"))

    p = sub.add_parser(
        "conflicts",
        help="changes the server refused, for you to look at",
        description="List the unresolved conflicts (works offline): each change the server "
        "refused or could not apply, with the lead, what you tried, why the server refused "
        "it and when. The workstation (`c`) lets you decide such a lead again or dismiss it.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=lazy("triage.commands:conflicts"))

    p = sub.add_parser(
        "status",
        help="pending, conflicts, open leads, last sync",
        description="What the local queue holds (works offline): the server and user, open "
        "leads, changes not sent yet, conflicts to review, decisions made today, the last "
        "sync and its error if it failed.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=lazy("triage.commands:status"))


def _queue_parser(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "queue",
        help="list your open leads",
        description="List leads from the local queue (works offline). FILTER uses the TUI's "
        "language: free words (name, company, title, email, campaign, source), source:, campaign:, score:<N, score:>N, bant:budget=no, attr:KEY=VALUE, "
        "account:DOMAIN, age:>24h, status:rejected.",
    )
    p.add_argument("filter", nargs="*", metavar="FILTER")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument(
        "--sort",
        default="sla",
        choices=["sla", "score", "age", "name", "company", "account"],
        help="sla: most urgent first; score: highest first; age: newest first; name, company: "
        "A to Z; account: grouped by account (the email's domain, else the company), A to Z, "
        "each account's most urgent first, as G in the workstation (default: sla)",
    )
    p.add_argument(
        "--reverse",
        action="store_true",
        help="the sort the other way round, as O in the workstation (least urgent, lowest "
        "score, oldest, Z to A first)",
    )
    p.add_argument(
        "--limit",
        type=_limit,
        metavar="N",
        help="at most N, 1 or more (default: 50 in the table, all with --json)",
    )
    p.set_defaults(func=lazy("triage.commands:queue"))


def _queue_and_decide(sub: Any, lazy: Any) -> None:
    _queue_parser(sub, lazy)
    p = sub.add_parser(
        "reasons",
        help="the reason codes of the qualification policy (as last synced)",
        description="The reason codes `triage decide reject|nurture --reason CODE` takes, "
        "from the qualification policy as last synced (the defaults before the first "
        "sync), and which of them need a --note.",
    )
    p.add_argument("--json", action="store_true", help="the whole policy as JSON")
    p.set_defaults(func=lazy("triage.commands:reasons"))

    p = sub.add_parser(
        "decide",
        help="accept, reject or nurture leads (locally; `triage sync` sends them)",
        description="Decide one or many leads in one transaction. The reason is checked "
        "against the qualification policy (`triage reasons` lists the codes). LEAD_ID is "
        "the lead's id or the marketing system's (`HS-2011`); `-` reads ids from stdin, "
        "one per line.",
    )
    p.add_argument("outcome", choices=["accept", "reject", "nurture"])
    p.add_argument("lead_ids", nargs="+", metavar="LEAD_ID")
    p.add_argument("--reason", metavar="CODE", help="a reason code of the policy (reject, nurture)")
    p.add_argument("--note", metavar="TEXT", help="why, in your words (required by some reasons)")
    p.add_argument(
        "--until",
        metavar="DATE",
        help="nurture: when marketing may bring it back, after today (2027-03-01, +30d, +3m, "
        "or words: 'next monday', 'in 3 weeks', march, '15 march', Q2)",
    )
    p.set_defaults(func=lazy("triage.commands:decide"))

    p = sub.add_parser(
        "reopen",
        help="take back decisions of yours: the leads are open again (`triage sync` sends it)",
        description="Reopen leads you decided, any of them, not only the last: a decision "
        "not sent yet is dropped, one the server has is followed by a reopen naming it (as "
        "undo in the workstation). Only your own decisions; a lead decided by someone "
        "else is refused, and then nothing changes. LEAD_ID is the lead's id or the "
        "marketing system's; `-` reads ids from stdin, one per line.",
    )
    p.add_argument("lead_ids", nargs="+", metavar="LEAD_ID")
    p.set_defaults(func=lazy("triage.commands:reopen"))
