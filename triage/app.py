"""The Textual app: wires the local store, the background sync worker and the screens.

Build it with :func:`make_app`; the CLI and the tests both do. The screens post
messages (`OpenLead`, `DecisionRequested`, ...: screens/messages.py) that the app
handles with `@on`; it tells them of every change with `StoreChanged`. The decision
workflow is its own object (screens/decisions.py). Module-level imports are textual,
triage's domain, store and config, and the TUI's screens and widgets: the first paint
must not pay for httpx or pydantic, so the sync runner is imported inside the sync
worker unless one is handed in (tests/test_tui_queue.py checks this).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from triage import domain
from triage.config import Settings
from triage.keymap import Scope, bindings_by_id, check_keymap, keys_of
from triage.screens.conflicts import ConflictsScreen
from triage.screens.day import MyDayScreen
from triage.screens.decisions import DecisionFlow
from triage.screens.detail import LeadDetailScreen, QueueOrder
from triage.screens.help import HelpScreen
from triage.screens.messages import (
    DecisionRequested,
    FilterQueue,
    OpenLead,
    StatusStale,
    StoreChanged,
    StoreWritten,
)
from triage.screens.navigation import HelpScreens, pop_to
from triage.screens.palette import TriageCommands
from triage.screens.queue import QueueScreen, empty_queue_text
from triage.screens.reason import ConfirmScreen, ReasonPicker
from triage.screens.views import SaveViewScreen
from triage.store import Store, StoreError
from triage.typeahead import TypeAhead
from triage.widgets.fmt import plural
from triage.widgets.lead_table import LeadTable
from triage.widgets.status_bar import StatusBar, SyncView

DATA_VERSION_SECONDS = 1.0  # how often the TUI looks for commits made by other processes

SyncRunner = Callable[..., Any]
"""`triage.sync.runner.run_once`'s shape: (db_path, server_url, token, *, insecure, retry,
should_stop) -> SyncReport. Called on a worker thread."""


@functools.cache
def _bindings_by_id() -> dict[str, Binding]:
    """Every binding of ours by id, worked out once: the classes do not change while the
    app runs, and text that names a key asks for it on every draw of the preview pane."""
    return bindings_by_id(KEY_SCOPES)


class TriageApp(App[None]):
    """Clear the MQL queue at keyboard speed; reads and writes only the local store."""

    CSS_PATH = "app.tcss"
    TITLE = "Triage"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {TriageCommands}

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", show=False, tooltip="Quit (every decision is already saved)"),
        Binding("question_mark", "help", "Help", id="help",
                tooltip="Show every key of this screen, generated from its bindings"),
        Binding("u", "undo", "Undo", id="undo",
                tooltip="Undo the last decision or BANT answer; a bulk decision is one step"),
        Binding("s", "sync", "Sync", id="sync", show=False,
                tooltip="Sync now: push decisions, pull new leads (runs in the background)"),
        Binding("c", "conflicts", "Conflicts", id="conflicts", show=False,
                tooltip="Review decisions the server refused"),
        Binding("t", "my_day", "My day", id="my_day", show=False,
                tooltip="Your day: decided today and this week, your pace, what is left"),
        Binding("ctrl+p", "command_palette", "Commands", id="command_palette", show=False,
                priority=True, tooltip="Open the command palette: every action, jump to a lead"),
    ]  # fmt: skip

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        db_path: Path,
        clock: Callable[[], datetime] | None = None,
        sync: bool = True,
        sync_runner: SyncRunner | None = None,
        logged_in_queue: Callable[[], Path | None] | None = None,
        notice: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.db_path = Path(db_path)
        # The queue a `triage login` (here or in another terminal) now points to: when it is
        # another one, this window stops rather than go on with a queue no longer in use.
        self.logged_in_queue = logged_in_queue
        self.switched_to: Path | None = None
        self.clock = clock
        self.sync_enabled = sync
        self.sync_runner = sync_runner  # None: triage.sync.runner.run_once, imported when used
        self.notice = notice  # shown once, as a notification, when the app starts
        self.keymap: dict[str, str] = dict(settings.keys)
        self.sync_view = SyncView("never" if settings.server_url and settings.token else "off")
        self.decisions = DecisionFlow(
            self, store, policy=lambda: self.policy, clock=self.now, changed=self.store_changed
        )
        self._policy: domain.Policy | None = None
        self._sync_timer: Timer | None = None
        self._painted = False
        self._stop_sync = threading.Event()
        self._detail: LeadDetailScreen | None = None  # installed once opened
        self.help_screens = HelpScreens(self)
        self._sync_quiet = True
        self._data_version: int | None = None  # the store's, when the screens last saw it
        self.checkpoints = Checkpoints(self, store)
        # Keys and pastes from the terminal, applied one after the other (see typeahead.py)
        self.typeahead = TypeAhead(self, super().on_event)

    # ------------------------------------------------------------ basics

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            await self.typeahead.feed(event)  # typed input: in order, whatever the pace
            return
        await super().on_event(event)

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: float | None = None, markup: bool = True) -> None:  # fmt: skip
        """Notifications carry data (lead names, notes, server errors): plain text, always,
        whatever the caller says (a screen's `notify` asks for markup by default). A
        message of our own with styling goes through `notify_styled`."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def notify_styled(self, content: Content, *, title: str = "", severity="information",
                      timeout: float | None = None) -> None:  # fmt: skip
        """A message of our own, styled: Content, whose text parts (data included) are
        escaped when it becomes markup."""
        super().notify(content.markup, title=title, severity=severity, timeout=timeout, markup=True)

    def action_help_quit(self) -> None:
        """ctrl+c does not quit: say which key does (Textual's own toast is markup)."""
        key = self.key_label("quit", "q")
        self.notify_styled(
            Content.assemble("Press ", (key, "bold"), " to quit (every decision is already saved)"),
            title="Do you want to quit?",
        )

    def key_label(self, binding_id: str, default: str = "") -> str:
        """The first key of binding `binding_id` under the keymap, as the footer shows it:
        text that names a key names the one that works now."""
        binding = _bindings_by_id().get(binding_id)
        if binding is None:
            return default
        keys = keys_of(binding, self.keymap)
        if not keys or (default and keys == keys_of(binding, {})):
            return default  # not remapped: the caller's own words for it ("enter", "esc")
        return self.get_key_display(Binding(keys[0], binding.action))

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else domain.utcnow()

    @property
    def policy(self) -> domain.Policy:
        if self._policy is None:
            self._policy = self.store.policy()
        return self._policy

    def get_default_screen(self) -> Screen:
        return QueueScreen(self.store)

    @property
    def queue_screen(self) -> QueueScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, QueueScreen):
                return screen
        return None

    def on_mount(self) -> None:
        if self.settings.theme:
            if self.settings.theme in self.available_themes:
                self.theme = self.settings.theme
            else:
                self.notify(f"Unknown theme {self.settings.theme!r}; using the default",
                            severity="warning")  # fmt: skip
        if self.keymap:
            self.set_keymap(self.keymap)
        me = self.store.me()
        rep = (me.get("name") or me.get("email")) if me else None
        self.title = f"Triage · {rep}" if rep else "Triage"
        server = self.settings.server_url
        self.sub_title = server.split("://", 1)[-1] if server else "not logged in: local only"
        self.set_interval(30, self.refresh_status, name="status-clock")
        self.checkpoints.start()
        self._data_version = self._store_version()
        if self.notice:
            self.notify(self.notice, title="Marketing's half of the loop", timeout=60)
        self.set_interval(DATA_VERSION_SECONDS, self.check_outside_changes, name="data-version")

    @on(QueueScreen.FirstPaint)
    def _first_paint(self) -> None:
        """The queue is on screen: start syncing."""
        if self._painted:
            return
        self._painted = True
        if self.sync_enabled and self.sync_view.state != "off":
            self.action_sync(quiet=True)  # the status bar says how it went
            interval = max(5.0, float(self.settings.sync_interval_seconds))
            self._sync_timer = self.set_interval(interval, self._periodic_sync, name="sync")

    # ------------------------------------------------------------ status and changes

    @on(StatusStale)
    def refresh_status(self) -> None:
        try:
            status = self.store.status(now=self.now())
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        now = self.now()
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.show(status, self.sync_view, now)
        queue = self.queue_screen
        if queue is not None:
            signed_in = bool(self.settings.server_url and self.settings.token)
            text = empty_queue_text(status, self.sync_view, self.settings.server_url,
                                    signed_in=signed_in, sync_enabled=self.sync_enabled,
                                    sync_key=self.key_label("sync", "s"))  # fmt: skip
            queue.table.set_empty_text(text)

    def store_changed(self, change: StoreChanged) -> None:
        """Tell every screen in the stack (each gets its own message); refresh the bar."""
        for screen in self.screen_stack:
            screen.post_message(change.copy())
        self.refresh_status()
        self.checkpoints.soon()

    @on(StoreWritten)
    def _store_written(self, event: StoreWritten) -> None:
        self.store_changed(StoreChanged(event.kind, event.lead_id))

    def _store_version(self) -> int | None:
        try:
            return self.store.data_version()
        except StoreError:
            return None

    def check_outside_changes(self) -> None:
        """The data-version timer's tick (about once a second): has another process
        (`triage decide` or `triage sync` in another terminal) or the sync worker
        committed to the store? Then every screen shows the store again. Costs one
        PRAGMA on the UI's connection when nothing changed."""
        if self._login_moved():
            return
        version = self._store_version()
        if version is None or version == self._data_version:
            return
        self._data_version = version
        if any(w.group == "sync" and w.is_running for w in self.workers):
            return  # its end refreshes everything (sync_done)
        self._policy = None  # `triage sync` may have brought a new policy
        self.store_changed(StoreChanged("outside"))

    def _login_moved(self) -> bool:
        """Did a login in another terminal switch to another queue (another server or rep)?
        Then stop: this window's queue keeps its work for when that login comes back."""
        if self.logged_in_queue is None or self.switched_to is not None:
            return self.switched_to is not None
        now = self.logged_in_queue()
        if now is None or now.resolve() == self.db_path.resolve():
            return False
        self.switched_to = now
        self.exit()
        return True

    # ------------------------------------------------------------ screens

    @on(OpenLead)
    def _open_lead(self, event: OpenLead) -> None:
        self.open_lead(event.lead_id)

    def open_lead(self, lead_id: str) -> None:
        if self.store.lead(lead_id) is None:
            self.notify("That lead is no longer in your store", severity="warning")
            return
        queue = self.queue_screen
        order = QueueOrder()
        if queue is not None:
            queue.show_lead(lead_id)
            order = QueueOrder(queue.table.filter, queue.table.sort)
        # One detail screen, kept installed: opening a lead then costs a repaint, not a
        # compose of twenty widgets. Never a second one: if it is in the stack already
        # (under the palette, the conflicts or a help screen), go back to it.
        detail = self._detail
        if detail is None:
            detail = self._detail = LeadDetailScreen(self.store, lead_id)
            self.install_screen(detail, name="detail")
        detail.lead_id = lead_id
        detail.order = order
        if detail in self.screen_stack:
            if self.screen is detail:
                detail.show_lead(lead_id)
            else:
                self._pop_to(detail)  # its resume shows `lead_id`
            return
        self.push_screen(detail)

    @on(LeadDetailScreen.Shown)
    def _lead_shown(self, event: LeadDetailScreen.Shown) -> None:
        """The detail moved on to another lead: the queue's cursor follows."""
        queue = self.queue_screen
        if queue is not None:
            queue.show_lead(event.lead_id)

    def _pop_to(self, screen: Screen) -> None:
        pop_to(self, screen)

    @on(FilterQueue)
    def _filter_queue(self, event: FilterQueue) -> None:
        """The queue, on top, with this filter (the lead screen's `@`)."""
        queue = self.queue_screen
        if queue is not None:
            self._pop_to(queue)
            queue.set_filter(event.query, lead_id=event.lead_id)

    def action_help(self) -> None:
        self.help_screens.show()

    def action_my_day(self) -> None:
        if not isinstance(self.screen, MyDayScreen):
            self.push_screen(MyDayScreen.of(self.store, self.now(), self.policy.sla_hours))

    def action_conflicts(self) -> None:
        if isinstance(self.screen, ConflictsScreen):
            return
        for screen in self.screen_stack:
            if isinstance(screen, ConflictsScreen):  # under the lead it opened: back to it
                screen.reload()
                self._pop_to(screen)
                return
        self.push_screen(ConflictsScreen(self.store))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys"):  # ours say it better
                yield command

    # ------------------------------------------------------------ decisions

    @on(DecisionRequested)
    def _decision_requested(self, event: DecisionRequested) -> None:
        self.decisions.request(event)

    def action_undo(self) -> None:
        self.decisions.undo()

    # ------------------------------------------------------------ sync

    def _periodic_sync(self) -> None:
        if self.sync_view.state != "stopped":
            self.action_sync(quiet=True)

    def action_sync(self, quiet: bool = False) -> None:
        if not (self.settings.server_url and self.settings.token):
            self.sync_view = SyncView("off", "not logged in")
            self.refresh_status()
            if not quiet:
                self.notify(
                    "Not logged in: run `triage login --server URL` (it asks for your token)",
                    severity="warning",
                )
            return
        if any(w.group == "sync" and w.is_running for w in self.workers):
            if not quiet:
                self.notify("A sync is already running", timeout=2)
            return
        self.sync_view = SyncView("syncing")
        self._sync_quiet = quiet  # a sync the rep asked for says why it failed
        self.refresh_status()
        self._sync_worker()

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False, name="sync")
    def _sync_worker(self):  # -> SyncReport
        from triage.sync.engine import RetryPolicy

        run_once = self.sync_runner
        if run_once is None:
            from triage.sync.runner import run_once
        worker = get_current_worker()
        stop = self._stop_sync
        return run_once(
            self.db_path,
            self.settings.server_url,
            self.settings.token,
            insecure=self.settings.insecure,  # `triage login --insecure` holds here too
            # quitting must not wait out a retry back-off: the sleep wakes on exit
            retry=RetryPolicy(sleep=stop.wait),
            should_stop=lambda: worker.is_cancelled or stop.is_set(),
        )

    def exit(self, *args, **kwargs) -> None:
        self.typeahead.close()  # keys typed after quitting are not applied
        self._stop_sync.set()  # a running sync stops at its next step
        super().exit(*args, **kwargs)

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """Every worker's end lands here: results applied, failures shown, never a crash."""
        worker = event.worker
        if worker.group != "sync":
            if event.state is WorkerState.ERROR:
                self.notify(f"{worker.name} failed: {worker.error}", severity="error")
            return
        if event.state is WorkerState.SUCCESS:
            self.sync_done(worker.result)
        elif event.state is WorkerState.ERROR:
            self.sync_view = SyncView("offline", str(worker.error))
            self.notify(f"Sync failed: {worker.error}", severity="error", title="Sync")
            self.refresh_status()
        elif event.state is WorkerState.CANCELLED:
            self.sync_view = SyncView("never")
            self.refresh_status()

    def sync_done(self, report) -> None:  # report: triage.sync.engine.SyncReport
        """Apply a sync result on the UI thread: redraw the queue, keep the cursor's lead."""
        if report.ok:
            self.sync_view = SyncView("online")
            if self._sync_timer is not None:
                self._sync_timer.resume()
            if report.conflicts:
                self.notify(
                    f"{plural(report.conflicts, 'conflict')} to review: "
                    f"press {self.key_label('conflicts', 'c')}",
                    severity="warning",
                    title="Sync",
                )
        elif report.auth_failed:
            self.sync_view = SyncView("stopped", report.error)
            if self._sync_timer is not None:
                self._sync_timer.pause()
            self.notify(f"sync stopped: {report.error}", severity="error", title="Sync", timeout=10)
        else:
            self.sync_view = SyncView("offline", report.error)
            if not self._sync_quiet:
                self.notify(f"Sync failed: {report.error or 'server unreachable'}",
                            severity="warning", title="Offline")  # fmt: skip
        self._policy = None  # a sync may bring a new policy
        self._data_version = self._store_version()  # what follows shows the worker's commits
        self.store_changed(StoreChanged("sync"))


class Checkpoints:
    """The window's store leaves its write-ahead log as it is when it commits
    (Store.defer_checkpoints); the copy into the file runs in a thread once the frame that
    shows a change is drawn: a bulk decision's copy and fsync, about a third of its
    commit, come after the screen shows it, not before."""

    def __init__(self, app: App, store: Store) -> None:
        self.app = app
        self.store = store
        self._due = False  # a checkpoint waits for the next frame

    def start(self) -> None:
        self.store.defer_checkpoints()
        self.app.set_interval(30, self.soon, name="checkpoint")  # a safety net

    def soon(self) -> None:
        """A checkpoint once the next frame is drawn (one, however many changes ask)."""
        if not self._due:
            self._due = True
            self.app.call_after_refresh(self._run)

    def _run(self) -> None:
        self._due = False  # a change from now on asks for another one
        self.app.run_worker(self.store.checkpoint, thread=True, group="checkpoint",
                            exit_on_error=False, name="checkpoint")  # fmt: skip


KEY_SCOPES: dict[str, Scope] = {
    "queue": Scope((QueueScreen, LeadTable, TriageApp)),
    "lead": Scope((LeadDetailScreen, TriageApp)),
    "conflicts": Scope((ConflictsScreen, TriageApp)),
    # modal screens: only the app's priority bindings reach past them
    "reason picker": Scope((ReasonPicker, TriageApp), modal=True),
    "confirmation": Scope((ConfirmScreen, TriageApp), modal=True),
    "save view": Scope((SaveViewScreen, TriageApp), modal=True),
    "help": Scope((HelpScreen, TriageApp), modal=True),
}
"""The bindings live together, by screen: what a `[keys]` table is checked against."""


def make_app(
    *,
    store: Store,
    settings: Settings,
    db_path: Path,
    clock: Callable[[], datetime] | None = None,
    sync: bool = True,
    sync_runner: SyncRunner | None = None,
    logged_in_queue: Callable[[], Path | None] | None = None,
    notice: str | None = None,
) -> TriageApp:
    """The TUI over an open store. `sync=False`: no background worker (tests, snapshots);
    `sync_runner`: what the sync worker runs (default `triage.sync.runner.run_once`; tests
    hand in their own); `clock`: a frozen "now" for ages and SLA colours;
    `logged_in_queue`: the queue the login now points to (the app stops when it is
    another); `notice`: a text shown once as a notification at start (the demo's
    workspace address and sign-in code). Raises ConfigError, before anything starts, for
    a `[keys]` table that cannot work (triage.keymap.check_keymap)."""
    if settings.keys:
        check_keymap(settings.keys, KEY_SCOPES)
    return TriageApp(
        store=store, settings=settings, db_path=db_path, clock=clock, sync=sync,
        sync_runner=sync_runner, logged_in_queue=logged_in_queue, notice=notice,
    )  # fmt: skip
