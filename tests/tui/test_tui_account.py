"""Account context: the lead screen and the preview pane say how many other leads of the
same account the rep has, by status; `@` on the queue lists the account's open leads."""

from __future__ import annotations

from tests.support.tui import NOW, open_ids, table_of, until
from triage import domain

SIZE = (120, 40)
WIDE = (160, 40)


def same_account(store, lead_id: str) -> list[str]:
    """The other leads of the lead's account, worked out here from the emails."""
    every = domain.Filter(status=tuple(s.value for s in domain.Status))
    domain_of = {i: store.lead(i).email.rsplit("@", 1)[1] for i in store.queue_ids(every, "sla")}
    return [i for i, d in domain_of.items() if d == domain_of[lead_id] and i != lead_id]


async def test_the_lead_screen_counts_the_other_leads_of_its_account(app, store):
    ids = open_ids(store)
    others = same_account(store, ids[0])
    assert len(others) >= 2
    store.decide([others[0]], "accept", at=NOW)
    company = store.lead(ids[0]).company
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        facts = str(app.screen.query_one("#lead-facts").render())
        expected = f"{len(others)} other leads at {company}: 1 accepted, {len(others) - 1} open"
        assert expected in facts


async def test_the_preview_says_it_too(app, store):
    ids = open_ids(store)
    others = same_account(store, ids[1])
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j")
        preview = app.query_one("#preview")
        await until(pilot, lambda: preview.current and preview.lead_id == ids[1])
        assert f"{len(others)} other leads at {store.lead(ids[1]).company}" in preview.text()


def assert_lists_the_account(app, store, lead_id: str) -> None:
    """The queue is on screen, filtered to the account of `lead_id`: its open leads."""
    table = table_of(app)
    account = domain.account_key(store.lead(lead_id).email, None)
    assert app.screen.query_one("#filter").value == f"account:{account}"
    members = {lead_id, *same_account(store, lead_id)}
    assert {table.row_at(i).id for i in range(table.count)} == members
    assert app.focused is table


async def test_at_lists_the_open_leads_of_the_account(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "at")
        assert_lists_the_account(app, store, ids[2])
        table = table_of(app)
        await pilot.press("escape")
        assert table.count == len(ids)


async def test_at_on_the_lead_screen_shows_the_queue_filtered_to_its_account(app, store):
    from triage.screens.queue import QueueScreen

    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "enter")
        assert app.screen.id == "detail"
        await pilot.press("at")
        assert isinstance(app.screen, QueueScreen)
        assert_lists_the_account(app, store, ids[2])
        assert table_of(app).cursor_id == ids[2]  # the lead the rep was reading


async def test_leads_with_one_email_are_flagged_as_possible_duplicates(app, store):
    from dataclasses import replace

    ids = open_ids(store)
    first = store.lead(ids[0])
    twin = replace(store.lead(ids[40]), email=first.email.upper(), version=99)
    store.apply_pull([twin], [], cursor=1000)
    async with app.run_test(size=WIDE) as pilot:
        preview = app.query_one("#preview")
        await until(pilot, lambda: preview.current and preview.lead_id == ids[0])
        assert "possible duplicate: 2 leads with this email" in " ".join(preview.text().split())
        await pilot.press("j")
        await until(pilot, lambda: preview.current and preview.lead_id == ids[1])
        assert "with this email" not in preview.text()
        await pilot.press("k", "enter")
        facts = str(app.screen.query_one("#lead-facts").render())
        assert "6 open · possible duplicate: 2 leads with this email" in facts
