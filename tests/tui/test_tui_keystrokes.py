"""The keystroke counts README gives ("Keystrokes"), each row's exact keys pressed here with
no pause between them, and what they did checked in the store."""

from __future__ import annotations

from datetime import date

from tests.support.tui import NOW, build_app, open_ids, table_of, until
from triage.config import SavedView
from triage.domain import Filter, Status

SIZE = (120, 40)


async def test_reject_with_a_reason_is_two_keys(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "2")
        await until(pilot, lambda: store.lead(ids[0]).status is Status.REJECTED)
        assert store.lead(ids[0]).decision.reason == "not_decision_maker"


async def test_reject_with_other_and_its_note_is_three_keys(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "0", *"partner deal", "enter")
        await until(pilot, lambda: store.lead(ids[0]).status is Status.REJECTED)
        d = store.lead(ids[0]).decision
        assert (d.reason, d.note) == ("other", "partner deal")


async def test_reject_with_another_reason_and_a_note_is_four_keys(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "down", "tab", *"wrong person", "enter")
        await until(pilot, lambda: store.lead(ids[0]).status is Status.REJECTED)
        d = store.lead(ids[0]).decision
        assert (d.reason, d.note) == ("not_decision_maker", "wrong person")


async def test_bulk_reject_of_a_filtered_set_is_five_keys(app, store):
    every = open_ids(store)
    wanted = [i for i in every if store.lead(i).source == "tradeshow"]
    assert 1 < len(wanted) < len(every)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"source:tradeshow", "enter", "asterisk", "r", "2")
        await until(pilot, lambda: store.lead(wanted[-1]).status is Status.REJECTED)
        assert {i for i in every if store.lead(i).status is Status.REJECTED} == set(wanted)


async def test_nurture_until_next_monday_is_four_keys(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "tab", "tab", *"next monday", "enter")
        await until(pilot, lambda: store.lead(ids[0]).status is Status.NURTURE)
        d = store.lead(ids[0]).decision
        assert (d.reason, d.nurture_until) == ("timing_later", date(2026, 11, 23))  # NOW: Fri 20th


async def test_undo_is_one_key_and_reopening_an_older_decision_four(app, store):
    ids = open_ids(store)
    store.decide([ids[3]], "reject", reason="no_budget", at=NOW)  # the older decision
    store.decide([ids[4]], "accept", at=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("u")
        await until(pilot, lambda: store.lead(ids[4]).status is Status.OPEN)
        await pilot.press("slash", *"status:rejected", "enter", "enter", "o")
        await until(pilot, lambda: store.lead(ids[3]).status is Status.OPEN)
        assert store.lead(ids[3]).decision is None and store.lead(ids[4]).decision is None


async def test_showing_a_saved_view_is_one_key_and_saving_one_two(store, tmp_path):
    app = build_app(store, config_file=tmp_path / "config.toml",
                    views=[SavedView("Tradeshow", "source:tradeshow", "score")])  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("1")
        assert (app.screen.query_one("#filter").value, table.sort) == ("source:tradeshow", "score")
        await pilot.press("O")  # lowest score first: a view of its own
        await pilot.press("v", *"low", "enter")
        await until(pilot, lambda: len(app.settings.views) == 2)
        assert app.settings.views[1] == SavedView("low", "source:tradeshow", "-score")


async def test_rejecting_every_lead_of_an_account_is_three_keys(app, store):
    ids = open_ids(store)
    account = store.queue_page(Filter(), "sla", 0, 1, now=NOW)[0].account
    members = store.queue_ids(Filter(account=(account,)), "sla", now=NOW)
    assert 1 < len(members) < len(ids)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m", "r", "2")
        await until(pilot, lambda: store.lead(members[-1]).status is Status.REJECTED)
        assert {i for i in ids if store.lead(i).status is Status.REJECTED} == set(members)


def _suggest(store, ids, suggestion) -> None:
    """Each lead's suggestion, as the server's pull brings it."""
    from dataclasses import replace

    leads = [replace(store.lead(i), version=store.lead(i).version + 1, suggestion=suggestion)
             for i in ids]  # fmt: skip
    store.apply_pull(leads, [], cursor=10_000)


async def test_following_a_rejection_suggestion_is_two_keys(app, store):
    from triage.domain import Outcome, Suggestion

    ids = open_ids(store)
    _suggest(store, ids[:1], Suggestion(Outcome.REJECT, "not_icp_fit", 0.9))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f", "enter")
        await until(pilot, lambda: store.lead(ids[0]).status is Status.REJECTED)
        assert store.lead(ids[0]).decision.reason == "not_icp_fit"


async def test_following_an_accept_suggestion_is_one_key(app, store):
    from triage.domain import Outcome, Suggestion

    ids = open_ids(store)
    assert not store.lead(ids[0]).has_bant_no()  # (a "no" asks "Accept anyway?", as a does)
    _suggest(store, ids[:1], Suggestion(Outcome.ACCEPT, None, 0.8))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await until(pilot, lambda: store.lead(ids[0]).status is Status.ACCEPTED)
