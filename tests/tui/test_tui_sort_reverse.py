"""`O` reverses the sort: the same order the other way round; `o` still cycles the sorts,
each in its own direction; the lead screen's next and previous follow the reversed order."""

from __future__ import annotations

from tests.support.tui import NOW, open_ids, table_of
from triage import domain
from triage.app import KEY_SCOPES
from triage.keymap import check_keymap
from triage.screens.detail import LeadDetailScreen
from triage.store import Store

SIZE = (120, 40)


def ids_by(store: Store, sort: str) -> list[str]:
    return store.queue_ids(domain.Filter(), sort, now=NOW)


def info(app) -> str:
    return str(app.screen.query_one("#queue-info").render())


async def test_shift_o_reverses_the_sort_and_back(app, store):
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "j", "O")
        assert table.sort == "-sla" and table.cursor == 0
        assert table.cursor_id == open_ids(store)[-1]  # the least urgent first
        assert "sort: least urgent first" in info(app)
        await pilot.press("G")
        assert table.cursor_id == open_ids(store)[0]
        await pilot.press("O")
        assert table.sort == "sla" and table.cursor_id == open_ids(store)[0]
        await pilot.press("o", "O")
        assert table.sort == "-score" and "sort: lowest score first" in info(app)
        assert table.cursor_id == ids_by(store, "score")[-1]
        await pilot.press("o")  # the next sort, in its own direction
        assert table.sort == "age" and "sort: newest" in info(app)


async def test_the_lead_screen_walks_the_reversed_order(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", "O", "enter")
        order = ids_by(store, "-score")
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == order[0]
        await pilot.press("j", "j")
        assert app.screen.lead_id == order[2]
        await pilot.press("a")  # decided: the next of the reversed order
        assert app.screen.lead_id == order[3]


async def test_reverse_is_in_the_help_and_remappable(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        ids = [str(s.render()) for s in app.screen.query(".help-id")]
        assert "reverse_sort" in ids
    check_keymap({"reverse_sort": "ctrl+o"}, KEY_SCOPES)


async def test_the_palette_reverses_the_sort(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        app.screen.query_one("CommandInput").value = "Reverse sort"
        await pilot.pause(0.6)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert table_of(app).sort == "-sla"
