"""The `triage server ...` commands. Imported only when one of them runs."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from triage import csvsafe, domain
from triage.server.db import Database
from triage.server.importer import ImportFileError, UnreadableRows, read_rows
from triage.server.migrate import SchemaError, upgrade, upgrade_sql
from triage.server.service import Backend, RowProblems, ServiceError


def default_db_url() -> str:
    url = os.environ.get("TRIAGE_SERVER_DB")
    if url:
        return url
    from triage.config import paths_from_env

    return "sqlite:///" + str(paths_from_env().server_db_file)


def _backend(args: argparse.Namespace) -> Backend:
    """The command's backend, opened once (and closed by `dispatch` when the command ends)."""
    backend = getattr(args, "backend", None)
    if backend is None:
        try:
            backend = args.backend = Backend.open(args.db or default_db_url())
        except SchemaError as exc:
            raise CommandFailed(str(exc)) from None
    return backend


class CommandFailed(Exception):
    """A server command that cannot go on; the message says why and what to do."""


def migrate(args: argparse.Namespace) -> int:
    db = Database(args.db or default_db_url())
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


def dispatch(args: argparse.Namespace) -> int:
    """Run `triage server <command>`: a refusal is one line on stderr and exit 1."""
    try:
        return globals()[args.server_func](args)
    except CommandFailed as exc:
        return _fail(str(exc))
    finally:
        backend = getattr(args, "backend", None)
        if backend is not None:
            backend.close()


def _fail(message: str) -> int:
    print(f"triage server: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from triage.server.app import create_app

    backend = _backend(args)
    assert backend.migration is not None
    if backend.migration.applied or backend.migration.stamped:
        print(backend.migration.describe(backend.db.shown_url), file=sys.stderr)
    print(
        f"triage server on http://{args.host}:{args.port} (database: {backend.db.shown_url})",
        file=sys.stderr,
    )
    uvicorn.run(
        create_app(backend),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        server_header=False,
    )
    return 0


def add_user(args: argparse.Namespace) -> int:
    backend = _backend(args)
    try:
        user, token, created = backend.add_user(args.email, args.name, args.role)
    except ServiceError as exc:
        return _fail(exc.detail)
    verb = "created" if created else "new token for"
    print(
        f"{verb} {user.role} {user.email} ({user.name}); the token below is shown once:",
        file=sys.stderr,
    )
    print(token)
    return 0


def import_file(args: argparse.Namespace) -> int:
    try:
        try:
            rows, labels = read_rows(args.file)
            unreadable: list[tuple[str, list[str]]] = []
        except UnreadableRows as exc:  # check the readable lines too: name every bad row
            rows, labels, unreadable = exc.rows, exc.labels, exc.unreadable
        backend = _backend(args)
        created, updated, unchanged = backend.upsert_leads(rows, labels, known_problems=unreadable)
    except ImportFileError as exc:
        return _fail(f"{exc}; nothing was imported")
    except RowProblems as exc:
        print(
            f"triage server: {args.file}: {len(exc.problems)} bad row(s); nothing was imported",
            file=sys.stderr,
        )
        for label, problems in sorted(exc.problems, key=lambda p: int(p[0].split()[-1])):
            print(f"  {label}: {'; '.join(problems)}", file=sys.stderr)
        return 1
    print(f"{args.file}: {created} created, {updated} updated, {unchanged} unchanged")
    return 0


def assign(args: argparse.Namespace) -> int:
    try:
        lead = _backend(args).assign(args.lead_id, args.email)
    except ServiceError as exc:
        return _fail(exc.detail)
    print(f"{lead['id']} ({lead['name']}, {lead['company'] or '-'}) assigned to {lead['owner']}")
    return 0


def policy(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if args.file is None:
        print(policy_toml(backend.policy()), end="")
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


def policy_toml(p: domain.Policy) -> str:
    """The policy as a TOML file an organisation can edit and load back."""

    def q(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)

    out = [f"# qualification policy, version {p.version}", f"sla_hours = {p.sla_hours:g}", ""]
    for c in p.bant:
        out += [
            "[[bant]]",
            f"key = {q(c.key)}",
            f"label = {q(c.label)}",
            f"question = {q(c.question)}",
            "",
        ]
    for name, reasons in (
        ("reject_reasons", p.reject_reasons),
        ("nurture_reasons", p.nurture_reasons),
    ):
        for r in reasons:
            out += [f"[[{name}]]", f"code = {q(r.code)}", f"label = {q(r.label)}"]
            if r.bant:
                out.append(f"bant = {q(r.bant)}")
            if r.note_required:
                out.append("note_required = true")
            out.append("")
    return "\n".join(out)


def report(args: argparse.Namespace) -> int:
    data = _backend(args).report(args.by)
    sys.stdout.write(format_report(data, args.format))
    return 0


def format_report(data: dict[str, Any], fmt: str) -> str:
    rows = data["rows"]
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    cols = [
        "mqls",
        "open",
        "accepted",
        "rejected",
        "nurtured",
        "acceptance_rate",
        "median_hours_to_decision",
    ]
    if fmt == "csv":
        buf = io.StringIO()
        w = csvsafe.writer(buf)
        w.writerow([data["by"], *cols, "top_reasons"])
        for r in rows:
            reasons = " ".join(f"{k}={v}" for k, v in r["reasons"].items())
            w.writerow([r["key"] or "", *(("" if r[c] is None else r[c]) for c in cols), reasons])
        return buf.getvalue()
    headers = [data["by"], "MQLs", "open", "acc", "rej", "nur", "accept%", "med h", "top reasons"]
    table = [headers]
    for r in rows:
        rate = "-" if r["acceptance_rate"] is None else f"{100 * r['acceptance_rate']:.0f}%"
        med = (
            "-" if r["median_hours_to_decision"] is None else f"{r['median_hours_to_decision']:.1f}"
        )
        top = ", ".join(f"{k} {v}" for k, v in list(r["reasons"].items())[:3])
        table.append(
            [
                r["key"] or "(none)",
                r["mqls"],
                r["open"],
                r["accepted"],
                r["rejected"],
                r["nurtured"],
                rate,
                med,
                top,
            ]
        )
    if len(table) == 1:
        return f"no leads yet (by {data['by']})\n"
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(table):
        cells = [
            str(v).ljust(widths[i]) if i in (0, 8) else str(v).rjust(widths[i])
            for i, v in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def users(args: argparse.Namespace) -> int:
    for u in _backend(args).users():
        print(f"{u.role:9}  {u.email}  ({u.name})")
    return 0
