"""Type-ahead: every key the rep types is applied in the order typed, whatever the pace.

Textual hands a key from the terminal to the widget that has the focus *when the app
reads the key*; the key's binding runs later, when the key has bubbled back up to the
app. So a key that opens a screen (`r` opens the reason picker) moves the focus only
after the keys typed right behind it have been handed to the old focus: in a burst (a
paste, a macro, a fast typist, `tmux send-keys`) the note typed after `r` `0` went to
the queue, and the picker's own start-up ran after the keys it should have come before.

`TypeAhead` holds each key until the key before it, and everything that key set off,
has been processed: its trip up to the app, a screen pushed or popped and its resume
and mount handlers, a change of focus. It knows that by posting a callback behind the
work in every message queue that has some (the app's, and those of the screens the key
started on and ended on, with their widgets) and starting over until a round finds
every queue empty. A key typed at human pace finds nothing to wait for and goes
straight through. Nothing here waits on time: a check twice a second, only while a key
waits, counts a queue that was closed with our callback in it as done.

A paste is typed input too: where a text field has the focus it gets the text, as
Textual gives it; anywhere else it is applied as the keys it holds, one by one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widget import Widget

Dispatch = Callable[[events.Event], Awaitable[None]]

MAX_ROUNDS = 64  # a timer that keeps posting never lets a round come back empty
CHECK_SECONDS = 0.5  # while a key waits: look for queues closed with our callback in them


def _has_work(pump: MessagePump) -> bool:
    """Messages or call_next callbacks waiting in the pump (Textual has no public API)."""
    if pump._closing or pump._closed:
        return False
    return not pump._message_queue.empty() or bool(pump._next_callbacks)


def _takes_text(widget: Widget | None) -> bool:
    """Does the widget take a paste as text (Input, TextArea: they handle Paste)?"""
    if widget is None:
        return False
    return any("_on_paste" in c.__dict__ or "on_paste" in c.__dict__ for c in type(widget).__mro__)


def _keys_of(text: str) -> list[events.Key]:
    """The key events that typing `text` sends: enter for a line break, tab for a tab;
    other control characters are dropped."""
    out: list[events.Key] = []
    for char in text.replace("\r\n", "\r"):
        if char in "\r\n":
            out.append(events.Key("enter", "\r"))
        elif char == "\t":
            out.append(events.Key("tab", "\t"))
        elif char.isprintable():
            out.append(events.Key(_character_to_key(char), char))
    return out


def _gone(pump: MessagePump) -> bool:
    """Will the pump never run a callback it has accepted?"""
    task = pump._task
    return pump._closed or (task is not None and task.done())


class TypeAhead:
    """The app's typed input (keys and pastes), handed on one at a time, in order."""

    def __init__(self, app: App, dispatch: Dispatch) -> None:
        self._app = app
        self._dispatch = dispatch  # the app's own handling of a key from the terminal
        self._held: deque[events.Event] = deque()
        self._busy = False  # a key is being applied, or the next one is scheduled
        self._closed = False
        self._generation = 0
        self._waiting: set[MessagePump] = set()  # this round's callbacks not yet run
        self._round: tuple[Screen | None, int] = (None, 0)
        self._check: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        """No key held and none being applied."""
        return not self._busy and not self._held

    def close(self) -> None:
        """The app is exiting: what is still held was typed after quitting; drop it."""
        self._closed = True
        self._held.clear()
        self._release(self._generation)

    async def feed(self, event: events.Event) -> None:
        """A key or paste from the terminal: apply it now, or after those before it."""
        if self._closed:
            return
        self._held.append(event)
        if not self._busy:
            self._busy = True
            await self._next()

    async def _next(self) -> None:
        if self._closed or not self._held:
            self._busy = False
            return
        event = self._held.popleft()
        if isinstance(event, events.Paste) and not _takes_text(self._focused()):
            # A paste where no text field has the focus is what its keys would do,
            # typed one after the other (`r0partner deal⏎` from a macro or a snippet).
            self._held.extendleft(reversed(_keys_of(event.text)))
            if not self._held:
                self._busy = False
                return
            event = self._held.popleft()
        self._generation += 1
        generation = self._generation
        origin = self._screen()
        try:
            await self._dispatch(event)
        finally:
            self._wait(origin, generation, 0)

    def _focused(self) -> Widget | None:
        screen = self._screen()
        return None if screen is None else screen.focused

    def _screen(self) -> Screen | None:
        try:
            return self._app.screen
        except Exception:  # no screen yet, or the app is closing
            return None

    def _pumps(self, origin: Screen | None) -> list[MessagePump]:
        pumps: dict[MessagePump, None] = {self._app: None}
        for screen in (origin, self._screen()):
            if screen is not None:
                for node in screen.walk_children(with_self=True):
                    pumps[node] = None
        return list(pumps)

    def _wait(self, origin: Screen | None, generation: int, rounds: int) -> None:
        """One round: a callback behind the work of every busy queue; the last one to run
        starts the next round. A round that finds nothing to wait for releases the key."""
        if generation != self._generation or not self._busy:
            return  # released already (closing)
        busy = [p for p in self._pumps(origin) if _has_work(p)]
        if not busy or rounds >= MAX_ROUNDS:
            self._release(generation)
            return

        def arrived(pump: MessagePump) -> None:
            if generation != self._generation or pump not in self._waiting:
                return
            self._waiting.discard(pump)
            if not self._waiting:
                self._wait(origin, generation, rounds + 1)

        self._waiting = {p for p in busy if p.call_later(arrived, p)}
        self._round = (origin, rounds)
        if not self._waiting:  # every queue closed meanwhile: nothing left to wait for
            self._release(generation)
        elif self._check is None:
            self._arm_check(generation)

    def _arm_check(self, generation: int) -> None:
        loop = asyncio.get_running_loop()
        self._check = loop.call_later(CHECK_SECONDS, self._look_for_gone, generation)

    def _look_for_gone(self, generation: int) -> None:
        """A queue closed with our callback in it never runs it: count it as arrived."""
        self._check = None
        if generation != self._generation or not self._waiting:
            return
        for pump in [p for p in self._waiting if _gone(p)]:
            self._waiting.discard(pump)
        if self._waiting:
            self._arm_check(generation)
        else:
            origin, rounds = self._round
            self._wait(origin, generation, rounds + 1)

    def _release(self, generation: int) -> None:
        if generation != self._generation or not self._busy:
            return
        self._generation += 1  # late callbacks of this key's rounds now do nothing
        self._waiting = set()
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self._held and not self._closed:
            # Applied from the app's own queue, as a key from the terminal is; the key
            # stays busy until then, so a key arriving meanwhile queues behind the held.
            if self._app.call_later(self._next):
                return
        self._busy = False
