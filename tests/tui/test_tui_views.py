"""Saved views: `v` names the queue's filter and sort (kept in config.toml), the digits
1-9 show them again, the palette lists them."""

from __future__ import annotations

import pytest

from tests.support.tui import build_app, messages, table_of, until
from triage.config import Paths, SavedView, load_settings

SIZE = (120, 40)


@pytest.mark.slow  # 8 s at load 5: the name typed key by key, twice, and the palette
async def test_save_a_view_then_show_it_with_its_digit(store, tmp_path):
    paths = Paths.under(tmp_path / "home")
    app = build_app(store, config_file=paths.config_file)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("slash", *"source:tradeshow", "enter", "O", "v")
        await pilot.press(*"Trade lows", "enter")
        await until(pilot, lambda: app.settings.views)
        saved = SavedView("Trade lows", "source:tradeshow", "-sla")
        assert load_settings(paths, {}).views == [saved]  # in config.toml
        info = str(app.screen.query_one("#queue-info").render())
        assert "view 1: Trade lows" in info
        count = table.count
        # elsewhere, then back with one key
        await pilot.press("escape", "o")
        assert table.count > count and table.sort == "score"
        await pilot.press("1")
        assert app.screen.query_one("#filter").value == "source:tradeshow"
        assert (table.sort, table.count) == ("-sla", count)
        await pilot.press("2")
        assert any("No view 2 yet" in m for m in messages(app))
        # saved again under its name with another sort: replaced in its place (key 1)
        await pilot.press("o", "v", *"trade LOWS", "enter")
        await until(pilot, lambda: app.settings.views[0].sort == "score")
        assert load_settings(paths, {}).views == [
            SavedView("trade LOWS", "source:tradeshow", "score")
        ]
        # the palette lists the views
        await pilot.press("escape", "ctrl+p", *"trade LOWS")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: table.sort == "score" and table.count == count)
