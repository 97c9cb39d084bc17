"""The queue screen: navigation, marks, filter, sort, opening a lead (pilot tests)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.tui import NOW, build_app
from triage import domain
from triage.screens.detail import LeadDetailScreen
from triage.screens.queue import QueueScreen
from triage.store import Store
from triage.widgets.lead_table import LeadTable

SIZE = (120, 40)


def table_of(app) -> LeadTable:
    return app.query_one("#leads", LeadTable)


def open_ids(store: Store, sort: str = "sla", query: str = "") -> list[str]:
    return store.queue_ids(domain.parse_filter(query), sort, now=NOW)


async def test_queue_opens_sorted_by_sla_with_counts(app, store):
    async with app.run_test(size=SIZE):
        table = table_of(app)
        assert isinstance(app.screen, QueueScreen)
        assert table.count == 60
        assert table.sort == "sla"
        assert table.cursor_id == open_ids(store)[0]
        info = str(app.screen.query_one("#queue-info").render())
        assert "60 open" in info and "sort: SLA urgency" in info
        assert app.focused is table


async def test_cursor_moves_with_keys_and_stays_visible(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("down", "j", "j")
        assert table.cursor == 3 and table.cursor_id == ids[3]
        await pilot.press("up", "k")
        assert table.cursor == 1
        await pilot.press("end")
        assert table.cursor == 59 and table.cursor_id == ids[-1]
        top = round(table.scroll_y)
        assert top <= 59 < top + table.body_height
        await pilot.press("home")
        assert table.cursor == 0 and round(table.scroll_y) == 0
        await pilot.press("G")
        assert table.cursor == 59
        await pilot.press("g")
        assert table.cursor == 0
        await pilot.press("pagedown")
        assert table.cursor == table.body_height
        await pilot.press("pageup")
        assert table.cursor == 0


async def test_marks_space_shift_star_and_escape(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("space")
        assert table.marks == {ids[0]} and table.cursor == 1
        await pilot.press("space")
        assert table.marks == {ids[0], ids[1]}
        await pilot.press("shift+down", "shift+down")
        assert table.marks == set(ids[:5]) and table.cursor == 4
        await pilot.press("k", "space")  # unmark ids[3]
        assert ids[3] not in table.marks
        info = str(app.screen.query_one("#queue-info").render())
        assert "4 marked" in info
        await pilot.press("escape")
        assert table.marks == set()
        await pilot.press("asterisk")
        assert table.marks == set(ids)


async def test_shift_up_extends_upwards(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "j", "j", "shift+up", "shift+up")
        assert table.marks == {ids[1], ids[2], ids[3]} and table.cursor == 1


async def test_filter_typing_counts_errors_enter_and_escape(app, store):
    expected = len(open_ids(store, query="source:tradeshow"))
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter")
        await pilot.press(*"source:tradeshow")
        assert table.count == expected < 60
        await pilot.press("enter")
        assert app.focused is table
        assert table.filter.source == ("tradeshow",)
        info = str(app.screen.query_one("#queue-info").render())
        assert f"{expected} open" in info and "filter: source:tradeshow" in info
        # a bad token: reported inline, the rest still applies
        await pilot.press("slash", *" score:abc")
        info = str(app.screen.query_one("#queue-info").render())
        assert "score:abc" in info and "use score:<N" in info
        assert table.count == expected
        # escape in the box: back to the table, filter kept; then marks first, then filter
        await pilot.press("escape")
        assert app.focused is table and table.count == expected
        await pilot.press("space")
        await pilot.press("escape")
        assert not table.marks and table.count == expected
        await pilot.press("escape")
        assert table.count == 60
        assert app.screen.query_one("#filter").value == ""


async def test_filter_with_free_text_and_no_match(app):
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("slash", *"zzzz-nobody", "enter")
        assert table.count == 0 and table.cursor_id is None
        assert (
            "No lead matches this filter"
            in pilot.app.screen.query_one(LeadTable).render_line(2).text
        )
        await pilot.press("a")  # nothing to decide: a warning, no crash
        assert "No lead to decide" in [n.message for n in app._notifications]


async def test_sort_cycles_through_store_sorts(app, store):
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        seen = [table.sort]
        for _ in range(len(Store.SORTS)):
            await pilot.press("o")
            seen.append(table.sort)
            assert table.cursor_id == open_ids(store, table.sort)[0]
        assert seen == [*Store.SORTS, "sla"]
        await pilot.press("o")
        info = str(app.screen.query_one("#queue-info").render())
        assert "sort: score" in info


async def test_enter_opens_detail_and_escape_returns_to_same_lead(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "enter")
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == ids[2]
        heading = str(app.screen.query_one("#lead-heading").render())
        assert store.lead(ids[2]).name in heading
        await pilot.press("j")
        assert app.screen.lead_id == ids[3]
        await pilot.press("k", "k")
        assert app.screen.lead_id == ids[1]
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        assert table_of(app).cursor_id == ids[1]


async def test_column_layout_fits_80_columns(store):
    app = build_app(store)
    async with app.run_test(size=(80, 24)):
        table = table_of(app)
        keys = [c.key for c in table.columns()]
        assert keys == ["mark", "score", "name", "company", "source", "bant", "age"]
        widths = sum(c.width for c in table.columns()) + len(keys) - 1 + 2
        assert widths <= table.scrollable_content_region.width
    app = build_app(store)
    async with app.run_test(size=SIZE):
        keys = [c.key for c in table_of(app).columns()]
        assert "title" in keys


async def test_mouse_click_moves_cursor(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.click(LeadTable, offset=(10, 4))  # header line 0, rows from 1
        assert table.cursor_id == ids[3]


def test_app_module_does_not_import_the_network_stack():
    code = (
        "import sys, triage.app\n"
        "bad = [m for m in ('httpx', 'pydantic', 'fastapi', 'triage.sync', 'triage.protocol')"
        " if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_keys_typed_in_one_burst_after_slash_go_to_the_filter(app, store):
    """A fast typist's `/source:tradeshow` arrives before `/` has moved the focus: none of
    those letters may run a queue binding (`u` undo, `r` reject, `o` sort, `s` sync)."""
    from textual import events

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r", "1")  # something `u` could undo
        await pilot.pause()
        assert store.pending_count() == 1
        for ch in "/source:tradeshow":
            app.post_message(events.Key({"/": "slash", ":": "colon"}.get(ch, ch), ch))
        field = app.screen.query_one("#filter")
        for _ in range(250):  # up to 5 s: a loaded machine is slow to apply 17 keys
            if field.value == "source:tradeshow":
                break
            await pilot.pause(0.02)
        assert field.value == "source:tradeshow"
        assert store.pending_count() == 1  # not undone
        assert len(app.screen_stack) == 1  # no reason picker opened
