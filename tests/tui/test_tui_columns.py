"""Chosen columns: config.toml `[queue] columns` picks the queue's columns and their order;
a narrow terminal still drops title, then source, first."""

from __future__ import annotations

from tests.support.tui import build_app, table_of


def header(app) -> list[str]:
    return str(table_of(app).render_line(0).text).split()


async def test_the_queue_shows_the_chosen_columns_in_their_order(store):
    app = build_app(store, columns=("age", "name", "source", "title", "score"))
    async with app.run_test(size=(200, 50)) as pilot:
        assert header(app) == ["AGE", "NAME", "SOURCE", "/", "CAMPAIGN", "TITLE", "SCR"]
        row = str(table_of(app).render_line(1).text).split()
        assert row[0].endswith("h")  # the age first, then the name
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert header(app) == ["AGE", "NAME", "SOURCE", "SCR"]  # no room for the title
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        assert header(app) == ["AGE", "NAME", "SCR"]
