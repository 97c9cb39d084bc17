"""Help, conflicts, command palette, keymap, status bar and the background sync worker."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from textual.command import CommandPalette

from tests.support.tui import (
    NOW,
    build_app,
    make_conflict,
    make_lead,
    until,
)
from triage import domain
from triage.app import make_app
from triage.config import Settings
from triage.screens.conflicts import ConflictsScreen
from triage.screens.detail import LeadDetailScreen
from triage.screens.help import HelpScreen, sections_for
from triage.screens.queue import QueueScreen
from triage.screens.reason import ReasonPicker
from triage.store import Store
from triage.sync.engine import SyncReport
from triage.widgets.lead_table import LeadTable
from triage.widgets.status_bar import StatusBar

SIZE = (120, 40)


def table_of(app) -> LeadTable:
    return app.query_one("#leads", LeadTable)


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


def status_text(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


def open_ids(store: Store) -> list[str]:
    return store.queue_ids(domain.Filter(), "sla", now=NOW)


# ---------------------------------------------------------------- help


async def test_help_is_generated_from_the_bindings(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        sections = dict(sections_for(help_screen.target, app))
        assert set(sections) == {"Queue", "Queue: moving and marking", "Everywhere"}
        queue = {e.id: e for e in sections["Queue"]}
        assert queue["reject"].keys == ("r",) and queue["reject"].description == "Reject"
        moving = {e.id: e for e in sections["Queue: moving and marking"]}
        assert moving["cursor_down"].keys == ("↓", "j")
        shown = " ".join(str(s.render()) for s in help_screen.query(".help-tooltip"))
        for section in sections.values():
            for entry in section:
                assert entry.tooltip and entry.tooltip in shown
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("question_mark")  # kept installed: the same screen again
        assert app.screen is help_screen
        await pilot.press("question_mark")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("question_mark", "q")  # q closes the help, not the app
        assert isinstance(app.screen, QueueScreen) and app.is_running


async def test_every_binding_has_id_description_and_tooltip():
    from triage.app import TriageApp
    from triage.screens.conflicts import ConflictsScreen
    from triage.screens.detail import LeadDetailScreen
    from triage.screens.help import HelpScreen
    from triage.screens.reason import ConfirmScreen

    for cls in (TriageApp, QueueScreen, LeadDetailScreen, ConflictsScreen, HelpScreen,
                ReasonPicker, ConfirmScreen, LeadTable):  # fmt: skip
        for binding in cls.BINDINGS:
            assert binding.id and binding.description and binding.tooltip, (cls, binding)


async def test_help_in_detail_lists_bant_keys_and_follows_the_keymap(store):
    app = build_app(store, keys={"reject": "x", "next_lead": "l"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "question_mark")
        sections = dict(sections_for(app.screen.target, app))
        lead = {e.id: e for e in sections["Lead"]}
        assert lead["bant_1"].keys == ("1",)
        assert lead["reject"].keys == ("x",)
        assert lead["next_lead"].keys == ("l",)


# ---------------------------------------------------------------- keymap, theme, quit


async def test_keymap_remaps_reject(store):
    app = build_app(store, keys={"reject": "x"})
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("x")
        assert isinstance(app.screen, ReasonPicker)
        await pilot.press("1")
        assert store.lead(ids[0]).status is domain.Status.REJECTED


async def test_theme_from_settings_and_q_quits(store):
    app = build_app(store, theme="nord")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "nord"
        await pilot.press("q")
    assert app.return_code == 0


async def test_title_shows_rep_and_server(app):
    async with app.run_test(size=SIZE):
        assert app.title == "Triage · Ann Rep"
        assert app.sub_title == "triage.example.com"


# ---------------------------------------------------------------- conflicts


async def test_conflicts_screen_shows_and_dismisses(app, store):
    lead_id = make_conflict(store)
    async with app.run_test(size=SIZE) as pilot:
        assert "1 conflict" in status_text(app)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        assert len(screen.entries) == 1
        text = str(screen.query_one("#conflict-list").get_option_at_index(0).prompt)
        assert store.lead(lead_id).name in text
        assert "reject · No budget" in text
        assert "conflict · already_decided" in text
        assert "Someone already decided this lead" in text
        assert "accepted by bob@example.com" in text
        await pilot.press("d")
        assert store.conflicts() == []
        assert screen.query_one("#conflicts-empty").display
        assert "No conflicts" in str(screen.query_one("#conflicts-empty").render())
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        assert "conflict" not in status_text(app).replace("0 conflicts", "")


async def test_conflict_enter_opens_the_lead_and_resolves(app, store):
    lead_id = make_conflict(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "enter")
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == lead_id
        assert store.conflicts() == []
        heading = str(app.screen.query_one("#lead-heading").render())
        assert "ACCEPTED" in heading  # the server's state won
        await pilot.press("escape")
        assert isinstance(app.screen, ConflictsScreen)


async def test_conflict_of_a_revoked_lead_cannot_be_opened(app, store):
    lead_id = make_conflict(store)
    store.apply_pull([], [lead_id], cursor=99)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "enter")
        assert isinstance(app.screen, ConflictsScreen)
        assert any("no longer in your queue" in m for m in messages(app))
        assert len(store.conflicts()) == 1


# ---------------------------------------------------------------- command palette


async def test_palette_jump_to_lead(app, store):
    target = store.lead(open_ids(store)[7])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        assert CommandPalette.is_open(app)
        app.screen.query_one("CommandInput").value = target.email.split("@")[0]
        await pilot.pause(0.6)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == target.id


async def test_palette_runs_screen_actions(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        app.screen.query_one("CommandInput").value = "Reject"
        await pilot.pause(0.6)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ReasonPicker)


# ---------------------------------------------------------------- status bar


async def test_status_bar_after_actions(app, store):
    async with app.run_test(size=SIZE) as pilot:
        text = status_text(app)
        assert "0 pending" in text and "60 open" in text and "0 decided today" in text
        assert "never synced" in text
        await pilot.press("r", "1")
        text = status_text(app)
        assert "1 pending" in text and "59 open" in text and "1 decided today" in text


# ---------------------------------------------------------------- sync worker


def sync_app(store: Store, sync_runner, **settings_kw):
    settings = Settings(server_url="https://triage.example.com", token="t0k3n", **settings_kw)
    return make_app(
        store=store, settings=settings, db_path=store.path, clock=lambda: NOW, sync=True,
        sync_runner=sync_runner,
    )  # fmt: skip


async def test_sync_runs_after_first_paint_and_keeps_cursor_lead(store):
    ids = open_ids(store)
    calls: list[str] = []
    release = threading.Event()

    def fake_run_once(db_path, server_url, token, **kw):
        calls.append(threading.current_thread().name)
        release.wait(5)
        other = Store.open(db_path)  # the worker's own connection, as the real one does
        try:
            oldest = replace(
                make_lead(999), id="L-new", mql_at=NOW - timedelta(days=30), assigned_at=None
            )
            other.apply_pull([oldest], [], cursor=2)
            other.record_sync(ok=True, error=None, at=NOW)
        finally:
            other.close()
        return SyncReport(ok=True, pulled=1)

    app = sync_app(store, fake_run_once)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j")
        assert table_of(app).cursor_id == ids[2]
        await until(pilot, lambda: bool(calls))
        assert "syncing" in status_text(app)
        await pilot.press("j")  # the UI does not wait for the sync
        assert table_of(app).cursor_id == ids[3]
        release.set()
        await until(pilot, lambda: app.sync_view.state == "online")
        assert calls and calls[0] != threading.main_thread().name
        table = table_of(app)
        assert table.count == 61
        assert table.cursor_id == ids[3] and table.cursor == 4  # followed its lead
        text = status_text(app)
        assert "online" in text and "synced just now" in text


async def test_sync_failure_is_shown_not_fatal(store):
    def boom(*a, **kw):
        raise RuntimeError("disk on fire")

    app = sync_app(store, boom)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("disk on fire" in m for m in messages(app)))
        assert "offline" in status_text(app)
        await pilot.press("j")
        assert table_of(app).cursor == 1


async def test_sync_auth_failure_stops_sync(store):
    count = []

    def denied(*a, **kw):
        count.append(1)
        return SyncReport(ok=False, error="401: token revoked", auth_failed=True)

    app = sync_app(store, denied, sync_interval_seconds=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sync_view.state == "stopped")
        await pilot.pause(0.3)  # the periodic timer does not start another one
        assert "sync stopped: 401: token revoked" in messages(app)
        assert "sync stopped" in status_text(app)
        assert len(count) == 1
        await pilot.press("s")  # the rep can still try by hand
        await until(pilot, lambda: len(count) == 2)


async def test_sync_key_without_login_says_how(store):
    app = make_app(store=store, settings=Settings(), db_path=store.path, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert any("triage login" in m for m in messages(app))
        assert "not logged in" in status_text(app)
        assert not [w for w in app.workers if w.group == "sync"]


async def test_the_queue_says_when_it_first_painted(store):
    """Once, after its first frame, with the rows fetched for it: the app starts syncing
    then, and bench/tui.py times the start-up by it."""
    app = build_app(store)
    painted: list[tuple[object, int]] = []  # (message, rows fetched by then)

    def hook(message) -> None:  # called at each hop: a message that bubbles comes twice
        if isinstance(message, QueueScreen.FirstPaint):
            if not any(seen is message for seen, _ in painted):
                painted.append((message, table_of(app).stats.rows))

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.press("j", "enter", "escape")
        await pilot.pause(0.2)
    assert [rows for _, rows in painted] == [60]


async def test_two_conflicts_dismiss_the_second(app, store):
    first = make_conflict(store, 5)
    second = make_conflict(store, 9)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "down", "d")
        left = store.conflicts()
        assert [c.lead_id for c in left] == [first] and second != first
        assert len(app.screen.entries) == 1


async def test_quit_during_a_sync_back_off_does_not_wait(store):
    import time

    started = threading.Event()

    def slow(db_path, server_url, token, *, retry, should_stop, **kw):
        started.set()
        retry.sleep(30)  # a back-off between retries
        assert should_stop()
        return SyncReport(ok=False, error="stopped")

    app = sync_app(store, slow)
    t = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, started.is_set)
        await pilot.press("q")
    assert time.monotonic() - t < 10
