"""The `triage server ...` commands. Imported only when one of them runs."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import socket
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from triage import csvsafe, domain
from triage.server import reports
from triage.server.db import BadURL, Database, Unavailable, explain, shown_url
from triage.server.migrate import SchemaError, upgrade, upgrade_sql
from triage.server.service import Backend, ServiceError


def _db_url(args: argparse.Namespace) -> str:
    """The database URL: --db, else TRIAGE_SERVER_DB, else server.db in the data directory,
    which is made (0700) here on first use; a directory that --db or TRIAGE_SERVER_DB
    names must exist already (Database refuses it otherwise)."""
    if args.db:
        return args.db
    url = os.environ.get("TRIAGE_SERVER_DB")
    if url:
        return url
    from triage.config import ensure_private_dir, paths_from_env

    paths = paths_from_env()
    try:
        ensure_private_dir(paths.data_dir)
    except OSError as exc:
        raise Unavailable(
            f"{paths.data_dir}: cannot create the data directory: {exc.strerror or exc}"
        ) from None
    return "sqlite:///" + str(paths.server_db_file)


def _database(args: argparse.Namespace) -> Database:
    db = Database(_db_url(args))
    _warn(db)
    return db


def _warn(db: Database) -> None:
    for warning in db.warnings:
        print(f"triage server: warning: {warning}", file=sys.stderr)


def _backend(args: argparse.Namespace) -> Backend:
    """The command's backend, opened once (and closed by `dispatch` when the command ends).
    Says on stderr when it created or upgraded the schema."""
    backend = getattr(args, "backend", None)
    if backend is None:
        try:
            backend = args.backend = Backend.open(_db_url(args))
        except SchemaError as exc:
            raise CommandFailed(str(exc)) from None
        _warn(backend.db)
        migration = backend.migration
        assert migration is not None
        if migration.applied or migration.stamped:
            print(migration.describe(backend.db.shown_url), file=sys.stderr)
    return backend


class CommandFailed(Exception):
    """A server command that cannot go on; the message says why and what to do."""


def migrate(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        if args.sql:
            sys.stdout.write(upgrade_sql(db))
        else:
            print(upgrade(db).describe(db.shown_url))
    except SchemaError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    return 0


def backup(args: argparse.Namespace) -> int:
    from triage.server.backups import BackupError, backup

    backend = _backend(args)  # a current schema: a backup restores to this release
    try:
        epoch = backup(backend.db, Path(args.file))
    except BackupError as exc:
        return _fail(str(exc))
    print(
        f"backed up {backend.db.shown_url} to {args.file} (epoch {epoch} in the copy: a "
        "restore of it tells every client that the server's history went back)"
    )
    return 0


def restore(args: argparse.Namespace) -> int:
    from triage.server.backups import BackupError, restore

    db = Database(_db_url(args))  # its warnings come once, from the backend below
    try:
        done = restore(db, Path(args.file))
    except BackupError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    backend = _backend(args)  # brings a backup of an older release up to date
    print(
        f"restored {args.file} into {backend.db.shown_url}; epoch {done.epoch} (was "
        f"{done.replaced_epoch if done.replaced_epoch is not None else 'none'}, the backup's "
        f"{done.backup_epoch}). Start the servers again; each rep's next sync refetches "
        "its queue and sends again what the server lost of its work."
    )
    return 0


def prune(args: argparse.Namespace) -> int:
    from triage.server.backups import prune_changelog

    gone = prune_changelog(_backend(args).db, args.keep_days)
    print(f"change log: {gone} row(s) older than {args.keep_days} days removed")
    return 0


def dispatch(args: argparse.Namespace) -> int:
    """Run `triage server <command>`. A refusal is one line on stderr that says what is
    wrong and what to do: exit 2 for a usage error, 1 for the environment (a database that
    cannot be reached, a port in use)."""
    try:
        return globals()[args.server_func](args)
    except CommandFailed as exc:
        return _fail(str(exc))
    except ServiceError as exc:  # refused by the server's rules: its detail says why
        return _fail(exc.detail)
    except BadURL as exc:
        return _fail(f"{exc}; check {_source_name(args)}", 2)
    except Unavailable as exc:
        return _fail(f"{exc}; check {_source_name(args)}")
    except (SQLAlchemyError, sqlite3.Error) as exc:
        where = _shown(args)
        return _fail(
            f"cannot use the database at {where}: {explain(exc)}; "
            f"check {_source_name(args)} and that the database is up"
        )
    finally:
        backend = getattr(args, "backend", None)
        if backend is not None:
            backend.close()


def _source_name(args: argparse.Namespace) -> str:
    if getattr(args, "db", None):
        return "--db"
    if os.environ.get("TRIAGE_SERVER_DB"):
        return "TRIAGE_SERVER_DB"
    return "the data directory, or pass --db"


def _shown(args: argparse.Namespace) -> str:
    backend = getattr(args, "backend", None)
    if backend is not None:
        return backend.db.shown_url
    url = getattr(args, "db", None) or os.environ.get("TRIAGE_SERVER_DB") or "server.db"
    return shown_url(url)


def _fail(message: str, code: int = 1) -> int:
    print(f"triage server: {message}", file=sys.stderr)
    return code


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (before anything is announced), or CommandFailed."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CommandFailed(f"cannot listen on {host!r}: {exc.strerror}; check --host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(2048)  # connections wait in the backlog from now on, as uvicorn's do
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = "is already in use (another server?); stop it or choose another --port"
        elif exc.errno == errno.EACCES:
            why = "is not allowed (ports below 1024 need privileges); choose another --port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            why = "is not an address of this machine; check --host"
        else:
            why = f"cannot be listened on: {exc.strerror or exc}"
        raise CommandFailed(f"{where} {why}") from None
    return sock


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from triage.server.app import create_app

    metrics_token = _metrics_token()  # refused before the database is opened
    backend = _backend(args)
    _webhook_settings()  # a bad TRIAGE_WEBHOOKS is refused before the port is taken
    sock = _listen(args.host, args.port)
    try:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        public = getattr(args, "public_url", None)
        print(
            f"triage server on http://{shown}:{port} (database: {backend.db.shown_url})"
            + (f"; workspace at {public.rstrip('/')}/web/" if public else
               f"; workspace at http://{shown}:{port}/web/"),
            file=sys.stderr,
            flush=True,
        )  # fmt: skip
        allow = getattr(args, "forwarded_allow_ips", None)
        access = getattr(args, "access_log", True) and args.log_level in ("info", "debug")
        if access:
            _access_log_to_stderr()
        config = uvicorn.Config(
            create_app(backend, public_url=public, metrics_token=metrics_token, access_log=access),
            log_level=args.log_level,
            access_log=False,  # ours (triage.server.metrics): JSON, with a request id
            server_header=False,
            # An idle keep-alive connection is kept 75 s. Uvicorn's 5 s closed it under
            # clients that come back every 10 s (a rep's pushes in the load test): the
            # next request raced the close and failed as a reset (3 pushes in 6,000).
            # 75 s also outlives the idle timeouts of the common proxies in front (nginx's
            # upstream keepalive_timeout, a cloud load balancer's 60 s): they close first.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            # X-Forwarded-* are believed only from the proxies named (never by default)
            proxy_headers=bool(allow),
            forwarded_allow_ips=allow or "",
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


KEEP_ALIVE_SECONDS = 75


def _access_log_to_stderr() -> None:
    """The access log's JSON lines, as they are, on stderr."""
    import logging

    from triage.server.metrics import ACCESS

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    ACCESS.handlers[:] = [handler]
    ACCESS.setLevel(logging.INFO)
    ACCESS.propagate = False


METRICS_TOKEN_ENV = "TRIAGE_METRICS_TOKEN"
METRICS_TOKEN_MIN = 16


def _metrics_token() -> str | None:
    """TRIAGE_METRICS_TOKEN: the bearer token that reads /metrics from anywhere (without
    it, loopback only). Taken from the environment, never the command line, which every
    user of the machine can read."""
    token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    if not token:
        return None
    if len(token) < METRICS_TOKEN_MIN or not token.isascii() or not token.isprintable():
        raise CommandFailed(
            f"{METRICS_TOKEN_ENV}: use at least {METRICS_TOKEN_MIN} printable ASCII characters "
            "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def signin_code(args: argparse.Namespace) -> int:
    from triage.server.web import sessions

    code, expires = sessions.new_code(_backend(args), args.email)
    print(
        f"a sign-in code for {args.email.strip().lower()}, single use, valid until "
        f"{_when(expires)}; enter it at /web/signin (shown once):",
        file=sys.stderr,
    )
    print(code)
    return 0


def _expiry(args: argparse.Namespace) -> datetime | None:
    lifetime = getattr(args, "expires", None)
    return None if lifetime is None else datetime.now(timezone.utc) + lifetime


def _until(expires_at: datetime | None) -> str:
    return "" if expires_at is None else f", valid until {_when(expires_at)}"


def add_user(args: argparse.Namespace) -> int:
    backend = _backend(args)
    expires_at = _expiry(args)
    user, token, _ = backend.add_user(args.email, args.name, args.role, expires_at=expires_at)
    print(
        f"created {user.role} {user.email} ({user.name}){_until(expires_at)}; "
        "the token below is shown once:",
        file=sys.stderr,
    )
    print(token)
    return 0


def token_rotate(args: argparse.Namespace) -> int:
    backend = _backend(args)
    expires_at = _expiry(args)
    user, token, public_id, revoked = backend.rotate_token(args.email, expires_at=expires_at)
    print(
        f"new token {public_id} for {user.role} {user.email}{_until(expires_at)}; "
        f"{revoked} older token(s) revoked; the token below is shown once:",
        file=sys.stderr,
    )
    if not user.active:
        print(
            f"note: {user.email} is deactivated; the token works once they are activated",
            file=sys.stderr,
        )
    print(token)
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if args.user:
        user, count = backend.revoke_tokens(args.user)
        print(f"revoked {count} token(s) of {user.email}")
    else:
        info = backend.revoke_token(args.id)
        print(f"token {info.id} of {info.email} is revoked")
    return 0


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%MZ")


def token_list(args: argparse.Namespace) -> int:
    tokens = _backend(args).tokens(args.email)
    rows = [("id", "user", "created", "last used", "expires", "state")]
    for t in tokens:
        rows.append(
            (t.id, t.email, _when(t.created_at), _when(t.last_used_at) if t.last_used_at
             else "never", _when(t.expires_at) if t.expires_at else "never", t.state)
        )  # fmt: skip
    if len(rows) == 1:
        print("no tokens")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _set_active(args: argparse.Namespace, active: bool) -> int:
    user, open_leads = _backend(args).set_active(args.email, active)
    if active:
        print(f"activated {user.email}: their live tokens work again")
    else:
        leads = (
            f"; their {open_leads} open lead(s) stay assigned to them until reassigned "
            "(triage server assign)"
            if open_leads
            else ""
        )
        print(f"deactivated {user.email}: every token of theirs is refused from now on{leads}")
    return 0


def user_deactivate(args: argparse.Namespace) -> int:
    return _set_active(args, False)


def user_activate(args: argparse.Namespace) -> int:
    return _set_active(args, True)


def user_role(args: argparse.Namespace) -> int:
    user = _backend(args).set_role(args.email, args.role)
    print(f"{user.email} is now {user.role}")
    return 0


def import_file(args: argparse.Namespace) -> int:
    from triage.server import import_cli

    return import_cli.run(args, lambda: _backend(args))


def export(args: argparse.Namespace) -> int:
    from triage.server import export_cli

    return export_cli.run(args, lambda: _backend(args))


def assign(args: argparse.Namespace) -> int:
    backend = _backend(args)
    before = len(backend.lead(args.lead_id).get("history", ()))
    lead = backend.assign(args.lead_id, args.email, force=args.force)
    reopened = len(lead.get("history", ())) > before
    print(
        f"{lead['id']} ({lead['name']}, {lead['company'] or '-'}) assigned to {lead['owner']}"
        + ("; reopened, its earlier decision is in its history" if reopened else "")
    )
    return 0


def policy(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if args.file is None:
        print(domain.policy_toml(backend.policy()), end="")
        return 0
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"{args.file}: cannot read: {exc}")
    try:
        new = domain.load_policy_toml(text, where=str(args.file))
    except domain.PolicyError as exc:
        return _fail(f"{exc}; the policy is unchanged")
    before = backend.policy().version
    saved = backend.set_policy(new)
    print(
        f"policy version {saved.version}"
        + (" (unchanged: the same as the current policy)" if saved.version == before else "")
        + f": SLA {saved.sla_hours:g} h, "
        f"{len(saved.reject_reasons)} reject and {len(saved.nurture_reasons)} nurture reasons"
    )
    return 0


def report(args: argparse.Namespace) -> int:
    data = _backend(args).report(args.by)
    sys.stdout.write(format_report(data, args.format))
    return 0


def reason_columns(rows: list[dict[str, Any]]) -> list[reports.ReasonColumn]:
    """One CSV column per reason that the rows use: (side, code, header), rejection reasons
    first, each side most used first."""
    out = []
    for side in ("reject", "nurture"):
        totals: dict[str | None, int] = {}
        labels: dict[str | None, str] = {}
        for r in rows:
            for x in r.get(f"{side}_reasons") or []:
                totals[x["code"]] = totals.get(x["code"], 0) + x["count"]
                labels[x["code"]] = x["label"]
        for code in sorted(totals, key=lambda c: (-totals[c], c or "")):
            out.append(reports.reason_column(side, code, labels[code]))
    return out


# The report's figures, in the order its CSV gives them.
REPORT_COLUMNS = [
    "mqls",
    "open",
    "accepted",
    "rejected",
    "nurtured",
    "acceptance_rate",
    "median_hours_to_decision",
    "sla_compliance",
    "open_past_sla",
]


def format_report(data: dict[str, Any], fmt: str) -> str:
    """The qualification report as JSON, CSV (one column per reason, formula-safe) or a
    table (top rejection reasons by label; nurtured apart)."""
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    if fmt == "csv":
        return _report_csv(data)
    return _report_table(data)


def _report_csv(data: dict[str, Any]) -> str:
    """One row per group: its figures, then a count for each reason (formula-safe)."""
    rows = data["rows"]
    buf = io.StringIO()
    w = csvsafe.writer(buf)
    reasons = reason_columns(rows)
    w.writerow([data["by"], *REPORT_COLUMNS, *(header for _, _, header in reasons)])
    for r in rows:
        w.writerow(
            [
                r["key"] or "",
                *(("" if r.get(c) is None else r[c]) for c in REPORT_COLUMNS),
                *reports.reason_cells(r, reasons),
            ]
        )
    return buf.getvalue()


def _report_table(data: dict[str, Any]) -> str:
    """The report for a terminal: a row per group with its top three rejection reasons,
    then what the figures mean."""
    headers = [data["by"], "MQLs", "open", "acc", "rej", "nur", "accept%", "med h", "SLA%",
               "top rejection reasons"]  # fmt: skip
    table: list[list[Any]] = [headers]
    for r in data["rows"]:
        rate = "-" if r["acceptance_rate"] is None else f"{100 * r['acceptance_rate']:.0f}%"
        med = (
            "-" if r["median_hours_to_decision"] is None else f"{r['median_hours_to_decision']:.1f}"
        )
        sla = "-" if r.get("sla_compliance") is None else f"{100 * r['sla_compliance']:.0f}%"
        top = ", ".join(f"{x['label']} {x['count']}" for x in (r.get("reject_reasons") or [])[:3])
        table.append(
            [r["key"] or "(none)", r["mqls"], r["open"], r["accepted"], r["rejected"],
             r["nurtured"], rate, med, sla, top]
        )  # fmt: skip
    if len(table) == 1:
        return f"no leads yet (by {data['by']})\n"
    definitions = (
        "acceptance = accepted / decided (accepted + rejected + nurtured); med h = median "
        "hours from the deciding rep's assignment to the first decision; SLA% = decisions "
        f"within {data.get('sla_hours', 0):g} h of assignment"
    )
    return "\n".join(_aligned(table)) + "\n\n" + definitions + "\n"


def _aligned(table: list[list[Any]]) -> list[str]:
    """The table's lines: the first and last columns to the left, figures to the right,
    a rule under the header."""
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    lines = []
    last = len(widths) - 1
    for n, row in enumerate(table):
        cells = [
            str(v).ljust(widths[i]) if i in (0, last) else str(v).rjust(widths[i])
            for i, v in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def users(args: argparse.Namespace) -> int:
    for u in _backend(args).users():
        print(f"{u.role:9}  {u.email}  ({u.name})" + ("" if u.active else "  deactivated"))
    return 0


def webhook(args: argparse.Namespace) -> int:
    """`triage server webhook ...`: triage.server.webhook_cli."""
    from triage.server import webhook_cli

    return webhook_cli.run(args, _backend(args))


def suggest(args: argparse.Namespace) -> int:
    """`triage server suggest ...`: triage.server.suggest.cli (scikit-learn is loaded here)."""
    from triage.server.suggest import cli as suggest_cli

    return suggest_cli.run(args, lambda: _backend(args))


def _webhook_settings() -> None:
    from triage.server.webhooks.delivery import ENV, Settings

    try:
        Settings.from_env(os.environ.get(ENV))
    except ValueError as exc:
        raise CommandFailed(str(exc)) from None
