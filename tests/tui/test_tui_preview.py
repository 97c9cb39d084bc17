"""The preview pane: from 140 columns on, the lead under the cursor beside the queue."""

from __future__ import annotations

import time

from tests.support.tui import burst, open_ids, settle, table_of, until
from triage import domain
from triage.screens.detail import LeadDetailScreen
from triage.screens.queue import PREVIEW_WIDTH, QueueScreen
from triage.store import Store
from triage.widgets.preview import DRAW_EVERY, LeadPreview

WIDE = (160, 40)
NARROW = (120, 40)


def preview_of(app) -> LeadPreview:
    return app.query_one("#preview", LeadPreview)


def heading(app) -> str:
    """The pane's first line: name, title, company, status."""
    return preview_of(app).text().split("\n", 1)[0]


async def shows_cursor_lead(pilot) -> None:
    """Until the pane shows the lead under the cursor (a draw may wait out DRAW_EVERY)."""
    app = pilot.app
    await until(pilot, lambda: preview_of(app).current)
    assert preview_of(app).lead_id == table_of(app).cursor_id


async def test_wide_terminal_shows_the_cursor_lead_beside_the_queue(app, store):
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        preview = preview_of(app)
        assert app.screen.has_class("-wide") and preview.display
        await shows_cursor_lead(pilot)
        assert store.lead(ids[0]).name in heading(app)
        assert preview.region.width > 0 and preview.region.x > table_of(app).region.x
        await pilot.press("j", "j")
        await shows_cursor_lead(pilot)
        assert preview.lead_id == ids[2]
        assert store.lead(ids[2]).name in heading(app)
        assert app.focused is table_of(app)  # the keys stay the queue's


async def test_narrow_terminal_keeps_the_queue_alone_and_draws_nothing(app, store):
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("j", "j", "j")
        preview = preview_of(app)
        assert not app.screen.has_class("-wide")
        assert preview.region.width == 0
        assert preview.draws == 0
        assert table_of(app).region.width == NARROW[0]


async def test_fifty_js_in_a_burst_end_on_the_lead_under_the_cursor(app, store):
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        await shows_cursor_lead(pilot)
        before = preview_of(app).draws
        started = time.monotonic()
        await burst(pilot, *["j"] * 50, timeout=30)  # fifty keys: over 5 s on a busy machine
        took = time.monotonic() - started
        await shows_cursor_lead(pilot)
        assert table_of(app).cursor == 50
        assert preview_of(app).lead_id == ids[50]
        assert store.lead(ids[50]).name in heading(app)
        # drawn at most once every DRAW_EVERY while the keys ran, not fifty times
        assert preview_of(app).draws - before <= took / DRAW_EVERY + 2


async def test_a_step_draws_the_pane_inside_the_step(app, store):
    """The pane draws the new lead inside the cursor's step, so the screen update that
    paints the cursor paints the pane too (one frame a step, not two)."""
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        await shows_cursor_lead(pilot)
        await pilot.pause(2 * DRAW_EVERY)  # a person's pace: past the drawing throttle
        draws = preview_of(app).draws
        table_of(app).action_cursor_down()  # no await: no message is handled in between
        assert preview_of(app).draws == draws + 1
        assert preview_of(app).current and preview_of(app).lead_id == ids[1]


async def test_the_lead_below_rendered_ahead_shows_as_the_store_has_it_when_reached(app, store):
    """The pane renders the lead below the cursor ahead; changed in the store meanwhile,
    it shows as changed when the cursor reaches it."""
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        await shows_cursor_lead(pilot)
        await pilot.pause(2 * DRAW_EVERY)  # the lead below is rendered ahead by now
        assert store.lead(ids[1]).bant_answer("budget") is not domain.Answer.NO
        other = Store.open(store.path)  # another process answers for the lead below
        try:
            other.set_bant(ids[1], "budget", "no")
        finally:
            other.close()
        await pilot.press("j")
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead_id == ids[1]
        assert "Budget     ✗ no" in preview_of(app).text()


async def test_resizing_across_140_columns_switches_live(app, store):
    ids = open_ids(store)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("j")
        await pilot.resize_terminal(PREVIEW_WIDTH, 40)
        await settle(pilot)
        assert app.screen.has_class("-wide")
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead_id == ids[1]
        await pilot.resize_terminal(PREVIEW_WIDTH - 1, 40)
        await settle(pilot)
        assert not app.screen.has_class("-wide")
        assert preview_of(app).region.width == 0
        await pilot.press("j")
        await pilot.resize_terminal(*WIDE)
        await settle(pilot)
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead_id == ids[2]


async def test_resized_while_the_lead_is_open_full_size(app, store):
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, LeadDetailScreen)
        await pilot.resize_terminal(*WIDE)
        await settle(pilot)
        await pilot.press("j", "escape")
        assert isinstance(app.screen, QueueScreen)
        assert app.screen.has_class("-wide")
        await shows_cursor_lead(pilot)
        assert table_of(app).cursor == 1
        await pilot.press("enter")
        await pilot.resize_terminal(*NARROW)
        await settle(pilot)
        await pilot.press("escape")
        assert not app.screen.has_class("-wide")


async def test_enter_still_opens_the_lead_full_size(app, store):
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j", "enter")
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == ids[1]


async def test_a_decision_and_its_undo_show_in_the_pane(app, store):
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("a")
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead_id == ids[1]  # the next lead slid under the cursor
        await pilot.press("u")
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead_id == ids[0]
        assert "OPEN" in heading(app)


async def test_a_change_to_the_shown_lead_draws_it_again(app, store):
    """Another process (or the sync) answers a BANT question of the lead shown."""
    ids = open_ids(store)
    async with app.run_test(size=WIDE) as pilot:
        await shows_cursor_lead(pilot)
        assert store.lead(ids[0]).bant_answer("budget") is not domain.Answer.NO
        other = Store.open(store.path)  # another process: `triage` in another terminal
        try:
            other.set_bant(ids[0], "budget", "no")
        finally:
            other.close()
        app.check_outside_changes()
        await settle(pilot)
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead.bant_answer("budget") is domain.Answer.NO
        assert "Budget     ✗ no" in preview_of(app).text()


async def test_an_empty_queue_says_so_in_the_pane(app, store):
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("slash", *"zzzz-no-such-lead", "enter")
        assert table_of(app).count == 0
        await until(pilot, lambda: preview_of(app).current)
        assert preview_of(app).lead is None
        assert "No lead under the cursor" in heading(app)
        await pilot.press("escape")
        await shows_cursor_lead(pilot)
        assert preview_of(app).lead_id == open_ids(store)[0]
