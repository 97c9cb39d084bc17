"""`triage server webhook add|list|remove|test|deliveries|redeliver|prune|rotate` (run through
triage.server.cli, which opens the database and reports its errors; the webhooks
themselves: triage.server.webhooks)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.server.service import Backend, ServiceError


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _fail(message: str) -> int:
    print(f"triage server: {message}", file=sys.stderr)
    return 1


def add(args: argparse.Namespace, backend: Backend) -> int:
    names = [n.strip() for part in args.events or () for n in part.split(",") if n.strip()]
    info, secret = backend.add_webhook(args.url, names or None)
    print(
        f"webhook {info.id}: {info.url}, for {', '.join(info.events)}. Each delivery is "
        "signed with the secret below (Triage-Signature; README, Webhooks); it is shown once:",
        file=sys.stderr,
    )
    print(secret)
    return 0


def list_(args: argparse.Namespace, backend: Backend) -> int:
    found = backend.webhooks()
    if not found:
        print("no webhooks (add one: triage server webhook add URL)")
        return 0
    rows: list[Sequence[Any]] = [
        ("id", "state", "pending", "delivered", "last delivery", "events", "url")
    ]
    for w in found:
        state = w.state if w.state == "active" else f"failing since {_when(w.failing_since)}"
        if w.state == "active" and w.retry_at is not None:
            state = f"retrying at {_when(w.retry_at)}"
        if w.previous_secret_until is not None:
            state += f" (two secrets until {_when(w.previous_secret_until)})"
        rows.append((w.id, state, w.pending, w.delivered, _when(w.last_delivered_at),
                     ",".join(w.events), w.url))  # fmt: skip
    print(_table(rows))
    return 0


def remove(args: argparse.Namespace, backend: Backend) -> int:
    info, dropped = backend.remove_webhook(args.id)
    print(
        f"removed webhook {info.id} ({info.url})"
        + (f"; {dropped} undelivered event(s) dropped with it" if dropped else "")
    )
    return 0


def test(args: argparse.Namespace, backend: Backend) -> int:
    target, answer = backend.test_webhook(args.id, timeout=args.timeout)
    print(f"webhook {target.id} ({target.url}) took a signed webhook.test event: {answer}")
    return 0


def rotate(args: argparse.Namespace, backend: Backend) -> int:
    info, secret, until = backend.rotate_webhook(args.id, args.overlap)
    if until is None:
        how = "the old secret no longer signs anything"
    else:
        how = (f"until {_when(until)} each delivery carries two v1 signatures, one with the "
               "new secret and one with the old, so switch your receiver before then")  # fmt: skip
    print(
        f"webhook {info.id} ({info.url}) has a new signing secret; {how}. "
        "The new secret is below; it is shown once:",
        file=sys.stderr,
    )
    print(secret)
    return 0


def deliveries(args: argparse.Namespace, backend: Backend) -> int:
    info, rows = backend.webhook_deliveries(args.id, args.limit)
    state = info.state if info.state == "active" else f"FAILING since {_when(info.failing_since)}"
    print(
        f"webhook {info.id} ({info.url}): {state}; {info.pending} pending, {info.delivered} "
        f"delivered; last delivery {_when(info.last_delivered_at)}"
    )
    if not rows:
        print("no events yet")
        return 0
    table: list[Sequence[Any]] = [
        ("seq", "event", "type", "created", "state", "tries", "last try", "last result")
    ]
    for d in rows:
        table.append((d.seq, d.event_id, d.type, _when(d.created_at), d.state, d.attempts,
                      _when(d.last_attempt_at), d.last_result or "-"))  # fmt: skip
    print(_table(table))
    return 0


def redeliver(args: argparse.Namespace, backend: Backend) -> int:
    done = backend.redeliver(args.event_id, args.webhook)
    for endpoint_id, seq in done:
        print(
            f"event {args.event_id} (#{seq}) will be sent again to webhook {endpoint_id}, "
            "then the events waiting behind it, in order"
        )
    return 0


def prune(args: argparse.Namespace, backend: Backend) -> int:
    older = args.older_than
    count = backend.prune_webhook_events(older)
    print(
        f"pruned {count} event(s) delivered more than {_span(older)} ago "
        "(events not delivered are never pruned)"
    )
    return 0


def _span(t: timedelta) -> str:
    hours = int(t.total_seconds() // 3600)
    if hours % 24:
        return f"{hours} hour(s)"
    return f"{hours // 24} day(s)"


COMMANDS = {"add": add, "list": list_, "remove": remove, "test": test,
            "deliveries": deliveries, "redeliver": redeliver, "prune": prune,
            "rotate": rotate}  # fmt: skip


def run(args: argparse.Namespace, backend: Backend) -> int:
    try:
        return COMMANDS[args.webhook_command](args, backend)
    except ServiceError as exc:
        return _fail(exc.detail)
