"""End to end: the TUI against a real server; decisions by key presses; marketing's report shows them."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.client import device
from tests.support.factories import lead_row
from tests.support.tui import until
from triage.app import make_app
from triage.config import Settings
from triage.store import Store


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def _totals(report: dict) -> tuple[Counter, Counter]:
    counts: Counter = Counter()
    reasons: Counter = Counter()
    for row in report["rows"]:
        for key in ("accepted", "rejected", "nurtured", "open"):
            counts[key] += row[key]
        reasons.update(row["reasons"])
    return counts, reasons


async def test_decisions_made_by_keys_reach_the_marketing_report(live_sqlite, tmp_path):
    live = live_sqlite
    live.upsert([lead_row(i) for i in range(12)])
    dev = device(tmp_path, live, live.ann)
    store = Store.open(dev.db_path)
    settings = Settings(server_url=live.url, token=live.ann.token)
    app = make_app(store=store, settings=settings, db_path=dev.db_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            # the first sync runs by itself after the first paint: wait for it, not for
            # the app to look idle (it may look so before the sync has started)
            await until(pilot, lambda: store.status().open == 12, timeout=20)
            await _settle(app, pilot)
            await pilot.press("r", "1")  # reject the first lead: no_budget
            await pilot.press("space", "space", "r", "3")  # two marked leads: no_need
            await pilot.press("a")  # accept the next one
            await pilot.press("n", "2")  # nurture: early_research
            await pilot.pause()
            assert store.pending_count() == 5
            await pilot.press("s")
            await _settle(app, pilot)
            assert store.pending_count() == 0
    finally:
        store.close()
    counts, reasons = _totals(live.backend.report("campaign"))
    assert counts == Counter(open=7, rejected=3, accepted=1, nurtured=1)
    assert reasons == Counter(no_budget=1, no_need=2, early_research=1)
    by_rep = live.backend.report("rep")["rows"]
    assert [(r["key"], r["rejected"]) for r in by_rep] == [("ann@example.com", 3)]


@pytest.mark.slow  # waits out real retries
async def test_offline_decisions_are_kept_and_sent_when_the_server_is_back(live_sqlite, tmp_path):
    live = live_sqlite
    live.upsert([lead_row(i) for i in range(6)])
    dev = device(tmp_path, live, live.ann)
    assert dev.sync().ok
    live.thread.stop()  # offline
    store = Store.open(dev.db_path)
    settings = Settings(server_url=live.url, token=live.ann.token)
    app = make_app(store=store, settings=settings, db_path=dev.db_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _settle(app, pilot)
            await pilot.press("asterisk", "r", "2")  # everything: not_decision_maker
            await pilot.press("s")
            await _settle(app, pilot)
            assert store.pending_count() == 6  # nothing lost, nothing sent
            assert store.status().last_error
            live.thread.start()  # back online, same port
            await pilot.press("s")
            await _settle(app, pilot)
            assert store.pending_count() == 0
    finally:
        store.close()
    _, reasons = _totals(live.backend.report("source"))
    assert reasons == Counter(not_decision_maker=6)
