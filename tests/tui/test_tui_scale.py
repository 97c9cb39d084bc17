"""The queue over 100,000 local leads: opens, pages and scrolls without loading them all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.factories import NOW, make_leads
from tests.support.tui import build_app
from triage import domain
from triage.store import SCHEMA_VERSION, Store
from triage.widgets.lead_table import MAX_PAGES, PAGE_SIZE, LeadTable

N = 100_000


@pytest.fixture(scope="session")
def big_db(tmp_path_factory, request) -> Path:
    """A 100k-lead store file, built once (and kept in pytest's cache between runs)."""
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    name = f"tui-100k-v{SCHEMA_VERSION}-f1"  # f1: the leads of tests.support.factories
    cache_dir = Path(cache.mkdir(name)) if cache is not None else tmp_path_factory.mktemp(name)
    cached = cache_dir / "triage.db"
    if not cached.exists():
        building = cache_dir / f"building-{id(request)}.db"
        store = Store.open(building)
        store.set_me("ann@example.com", "Ann Rep", "rep")
        store.save_policy(domain.DEFAULT_POLICY)
        for start in range(0, N, 10_000):
            store.apply_pull(make_leads(start, start + 10_000), [], cursor=start + 10_000)
        store.close()
        building.replace(cached)
    return cached


@pytest.fixture
def big_store(big_db, tmp_path):
    path = tmp_path / "triage.db"
    shutil.copyfile(big_db, path)
    store = Store.open(path)
    yield store
    store.close()


@pytest.mark.slow  # 100,000 leads made and copied: 15-50 s of the fast lane
async def test_100k_leads_open_page_scroll_filter_and_bulk_reject(big_store):
    app = build_app(big_store)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#leads", LeadTable)
        assert table.count == N
        assert table.stats.pages == 1 and table.stats.rows == PAGE_SIZE  # one page painted
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor == N - 1
        assert table.cursor_id == big_store.queue_ids(domain.Filter(), "sla", now=NOW)[-1]
        await pilot.press("pageup", "pageup", "up")
        table.scroll_to(y=N // 2, animate=False, immediate=True)
        await pilot.pause()
        await pilot.press("home")
        assert table.cursor == 0
        # a handful of pages fetched, never the queue; the cache stays bounded
        assert table.stats.pages <= 8
        assert table.stats.rows <= 8 * PAGE_SIZE
        assert table.cached_pages <= MAX_PAGES

        # (one test, not two: under xdist each would build the 100k file on its own worker)
        app.screen.query_one("#filter").value = "acme score:<10"
        await pilot.pause()
        count = big_store.queue_count(domain.parse_filter("acme score:<10"), now=NOW)
        assert table.count == count > 0
        table.stats.reset()
        await pilot.press("asterisk", "r", "4")
        assert table.count == 0
        assert big_store.queue_count(domain.Filter(), now=NOW) == N - count
        assert table.stats.rows <= PAGE_SIZE
        await pilot.press("u")
        assert table.count == count
