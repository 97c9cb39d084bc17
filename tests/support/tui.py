"""Shared pieces of the TUI tests: a store of deterministic leads, a frozen clock, the app.

Used by the tests of tests/tui/ (their fixtures are in tests/tui/conftest.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.support.factories import NOW, make_lead  # noqa: F401  (re-exported for the TUI tests)
from triage import domain
from triage.app import TriageApp, make_app
from triage.config import Settings
from triage.store import Store


def seed_store(path: Path, n: int = 60, *, now: datetime = NOW, chunk: int = 5000) -> Store:
    store = Store.open(path)
    store.set_me("ann@example.com", "Ann Rep", "rep")
    store.save_policy(domain.DEFAULT_POLICY)
    for start in range(0, n, chunk):
        leads = [make_lead(i, now) for i in range(start, min(n, start + chunk))]
        store.apply_pull(leads, [], cursor=start + len(leads))
    return store


def build_app(store: Store, **settings_kw) -> TriageApp:
    app = make_app(
        store=store,
        settings=Settings(
            server_url="https://triage.example.com", token="test-token", **settings_kw
        ),
        db_path=store.path,
        clock=lambda: NOW,
        sync=False,
    )
    record_notifications(app)
    return app


def record_notifications(app) -> None:
    """Keep every notification the app shows, for `messages`: a toast goes after its
    timeout (2 to 4 s), which a loaded machine can outlast between a key and the check."""
    shown: list[str] = []
    add = app._notifications.add

    def recorded(notification) -> None:
        shown.append(notification.message)
        add(notification)

    app._notifications.add = recorded
    app.shown_messages = shown


async def until(pilot, predicate, timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` holds (a worker's result arrived, ...)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


def make_conflict(store: Store, lead_index: int = 5) -> str:
    """Reject lead `lead_index` locally, then have the server answer `already_decided`
    with its own version of the lead (accepted by bob). Returns the lead id."""
    from dataclasses import replace

    from triage.store import PushResult

    lead = make_lead(lead_index)
    store.decide([lead.id], "reject", reason="no_budget", at=NOW)
    (item,) = [i for i in store.pending() if i.lead_id == lead.id]
    server = replace(
        lead,
        version=lead.version + 1,
        status=domain.Status.ACCEPTED,
        decision=domain.Decision(domain.Outcome.ACCEPT, None, None, NOW, by="bob@example.com"),
    )
    store.apply_push_results([PushResult(item.seq, "conflict", "already_decided", lead=server)])
    return lead.id


def table_of(app):
    """The queue's lead table."""
    from triage.widgets.lead_table import LeadTable

    return app.query_one("#leads", LeadTable)


def open_ids(store: Store) -> list[str]:
    return store.queue_ids(domain.Filter(), "sla", now=NOW)


def messages(app) -> list[str]:
    """Every notification shown so far (build_app records them), else those on screen."""
    shown = getattr(app, "shown_messages", None)
    return list(shown) if shown is not None else [n.message for n in app._notifications]


def key_event(key: str):
    """The Key event a terminal sends for `key` ("r", "enter", "+", "shift+down")."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


async def burst(pilot, *keys: str, timeout: float = 5.0) -> None:
    """Send `keys` the way a paste, a macro or `tmux send-keys` does: all at once, with no
    pause between them (`pilot.press` waits for the app to go idle after every key), then
    let the app work through them."""
    app = pilot.app
    for key in keys:
        event = key_event(key)
        event.set_sender(app)
        app._driver.send_message(event)
    await settle(pilot, timeout)


async def settle(pilot, timeout: float = 5.0) -> None:
    """Until every typed key has been applied and the screen has caught up."""
    app = pilot.app
    typeahead = getattr(app, "typeahead", None)  # None before the fix: then only pauses

    def done() -> bool:
        return typeahead is None or typeahead.idle or not app.is_running

    for _ in range(3):
        await pilot.pause()
        await until(pilot, done, timeout)
        if app.is_running:
            await pilot._wait_for_screen()
