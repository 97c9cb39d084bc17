"""No key sequence ends in a traceback: random bursts of keys (and bracketed pastes), sent
with no pause between them (as a macro or `tmux send-keys` sends them), on every screen.

After each burst: no exception escaped the app (its `_exception` and `return_code`), the
store is intact (`PRAGMA integrity_check`) and every lead's decision is consistent with
its status, the policy and the queue's projection. The fast lane runs a few examples per
screen; the `slow` variant many more.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.tui import NOW, build_app, make_conflict, seed_store, settle
from triage import domain
from triage.store import Store

SIZE = (100, 30)
WIDE = (160, 40)  # the preview pane beside the queue

# Every key bound somewhere (and some that are not), text for the filter, the note and
# the date, and the keys that move between screens. `q` quits: once in ~80 keys.
SPECIAL = [
    "enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "pageup",
    "pagedown", "home", "end", "space", "backspace", "delete", "shift+up", "shift+down",
    "ctrl+p", "ctrl+c", "ctrl+a", "ctrl+e", "ctrl+u", "ctrl+w",
]  # fmt: skip
TEXT = list("abcdefghijklmnoprstuvwxyzGOQWERASDFZXCV@0123456789/*?+-:<>=., ")
# A bracketed paste arrives as one event: "paste:" then its text.
PASTES = ["paste:r0pasted note\r", "paste:source:webinar\n", "paste:+3m", "paste:jjr2", "paste:"]
KEYS = st.sampled_from([*SPECIAL, *TEXT, *TEXT[:26], *PASTES, "q"])
BURSTS = st.lists(KEYS, min_size=1, max_size=40)


def _first_with_no(store: Store) -> int:
    ids = store.queue_ids(domain.Filter(), "sla", now=NOW)
    return next(i for i, lead_id in enumerate(ids) if store.lead(lead_id).has_bant_no())


async def _to_confirm(app, pilot) -> None:
    from tests.support.tui import table_of

    table_of(app).move_to(_first_with_no(app.store))
    await pilot.press("a")


def _keys(*keys: str) -> Callable:
    async def go(app, pilot) -> None:
        await pilot.press(*keys)

    return go


# screen -> (how to get there, what it is)
SCREENS: dict[str, tuple[Callable, str]] = {
    "queue": (_keys(), "QueueScreen"),
    "queue with preview": (_keys(), "QueueScreen"),
    "detail": (_keys("enter"), "LeadDetailScreen"),
    "reject picker": (_keys("r"), "ReasonPicker"),
    "nurture picker": (_keys("n"), "ReasonPicker"),
    "confirm": (_to_confirm, "ConfirmScreen"),
    "conflicts": (_keys("c"), "ConflictsScreen"),
    "help": (_keys("question_mark"), "HelpScreen"),
    "palette": (_keys("ctrl+p"), "CommandPalette"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One seeded store (with two conflicts to review), copied for every example."""
    path = tmp_path_factory.mktemp("bursts") / "triage.db"
    store = seed_store(path, 40)
    make_conflict(store, 5)
    make_conflict(store, 9)
    store.close()
    return path


def check_store(store: Store) -> None:
    """The store is sound and every decision in it is consistent."""
    assert store.integrity_check() == "ok"
    policy = store.policy()
    every = domain.Filter(status=tuple(s.value for s in domain.Status))
    for lead_id in store.queue_ids(every, "sla", now=NOW):
        lead = store.lead(lead_id)
        assert lead is not None
        projected = store.queue_ids(
            domain.Filter(status=(lead.status.value,), text=()), "sla", now=NOW
        )
        assert lead_id in projected, f"{lead_id}: the queue's projection disagrees"
        decision = lead.decision
        if lead.status is domain.Status.OPEN:
            assert decision is None or decision.outcome is None, lead_id
            continue
        assert decision is not None, lead_id
        expected = {
            domain.Outcome.ACCEPT: domain.Status.ACCEPTED,
            domain.Outcome.REJECT: domain.Status.REJECTED,
            domain.Outcome.NURTURE: domain.Status.NURTURE,
        }[decision.outcome]
        assert lead.status is expected, lead_id
        if decision.outcome is domain.Outcome.ACCEPT:
            assert decision.reason is None and decision.nurture_until is None
            continue
        reason = policy.reason(decision.outcome, decision.reason)
        assert reason is not None, (lead_id, decision.reason)
        if reason.note_required:
            assert decision.note and decision.note.strip(), lead_id
        if decision.nurture_until is not None:
            assert decision.outcome is domain.Outcome.NURTURE
            assert decision.nurture_until > NOW.astimezone().date()


def send(app, keys: list[str]) -> None:
    """All the keys (and pastes) at once, with no pause: as a terminal sends a burst."""
    from textual import events

    from tests.support.tui import key_event

    for key in keys:
        event = events.Paste(key[6:]) if key.startswith("paste:") else key_event(key)
        event.set_sender(app)
        app._driver.send_message(event)


async def run_burst(template: Path, screen: str, keys: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "triage.db"
        shutil.copy(template, path)
        store = Store.open(path)
        try:
            app = build_app(store)
            go, kind = SCREENS[screen]
            try:
                size = WIDE if screen.endswith("with preview") else SIZE
                async with app.run_test(size=size) as pilot:
                    await go(app, pilot)
                    assert type(app.screen).__name__ == kind
                    send(app, keys)
                    await settle(pilot)
                    if app.is_running:
                        await settle(pilot)
            except Exception as exc:  # run_test re-raises what the app raised
                raise AssertionError(f"{screen}: {keys!r} raised {exc!r}") from exc
            assert app._exception is None, (screen, keys, app._exception)
            assert app.return_code in (None, 0), (screen, keys, app.return_code)
            check_store(store)
        finally:
            store.close()


def _property(max_examples: int):
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(keys=BURSTS)
    def prop(template, screen, keys):
        asyncio.run(run_burst(template, screen, keys))

    return prop


@pytest.mark.parametrize("screen", list(SCREENS))
def test_random_bursts_never_end_in_a_traceback(template, screen):
    _property(3)(template, screen)


@pytest.mark.slow
@pytest.mark.parametrize("screen", list(SCREENS))
def test_random_bursts_never_end_in_a_traceback_many(template, screen):
    _property(30)(template, screen)


@pytest.mark.parametrize(
    "screen, keys",
    [
        # found by the property (and by a rep in tmux) before keys were applied in order:
        ("queue", list("question")),  # quit, then a picker opened while quitting: NoMatches
        ("reject picker", ["enter", "enter"]),  # dismissed twice: ScreenStackError
        ("nurture picker", ["enter", "enter"]),
        ("detail", ["q", "c"]),  # the conflicts screen composed while quitting: NoMatches
        ("queue", ["r", "q", "escape", "n", "q"]),
        ("detail", ["r", "0", "escape", "q", "n"]),
        ("reject picker", ["0", "enter", "escape", "r", "q"]),
    ],
)
def test_known_bursts(template, screen, keys):
    asyncio.run(run_burst(template, screen, keys))
