"""Reason keys that never move: the picker shows and uses the keys the policy gives its
reasons (a digit or a letter) and numbers the others with the digits left."""

from __future__ import annotations

from dataclasses import replace

from tests.support.tui import build_app, burst, open_ids
from triage import domain
from triage.screens.queue import QueueScreen
from triage.screens.reason import ReasonPicker

SIZE = (120, 40)


def keyed_policy(version: int = 2, first: tuple[domain.Reason, ...] = ()) -> domain.Policy:
    """The default reasons with keys for three of them (other keeps "0" as its own)."""
    own = {"duplicate": "d", "spam_or_student": "s", "other": "0"}
    reasons = tuple(replace(r, key=own.get(r.code)) for r in domain.DEFAULT_REJECT_REASONS)
    return replace(domain.DEFAULT_POLICY, version=version, reject_reasons=first + reasons)


def prompts(picker: ReasonPicker) -> list[str]:
    options = picker.query_one("#reason-list")
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_picker_shows_and_uses_the_policys_keys(store):
    store.save_policy(keyed_policy())
    ids = open_ids(store)
    app = build_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        picker = app.screen
        assert isinstance(picker, ReasonPicker)
        shown = prompts(picker)
        assert shown[5].startswith("d  Duplicate lead")
        assert shown[8].startswith("s  Spam or student")
        assert [p[0] for p in shown] == [*"12345", "d", "6", "7", "s", "0"]
        assert str(picker.query_one("#reason-help").render()).startswith("key: pick")
        await pilot.press("d")
        assert isinstance(app.screen, QueueScreen)
        assert store.lead(ids[0]).decision.reason == "duplicate"
        await pilot.press("r", "S")  # shift or caps lock: the same reason
        assert store.lead(ids[1]).decision.reason == "spam_or_student"
        await pilot.press("r", "6")  # numbered: the sixth digit goes to the seventh reason
        assert store.lead(ids[2]).decision.reason == "existing_customer"


async def test_a_letter_typed_in_the_note_is_text(store):
    store.save_policy(keyed_policy())
    ids = open_ids(store)
    app = build_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "r", "0", *"dup sent", "enter")  # other needs a note: "d" is text
        lead = store.lead(ids[0])
        assert (lead.decision.reason, lead.decision.note) == ("other", "dup sent")
        await burst(pilot, "r", "x")  # no reason has x: the picker says so and stays
        assert isinstance(app.screen, ReasonPicker)
        assert "no reason with the key x" in str(app.screen.query_one("#reason-message").render())


async def test_a_new_reason_leaves_the_keys_where_they_were(store):
    """Marketing adds a reason at the top: with keys, "d" still rejects as a duplicate."""
    added = (domain.Reason("competitor", "Competitor"),)
    store.save_policy(keyed_policy(version=3, first=added))
    ids = open_ids(store)
    app = build_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "d")
        assert store.lead(ids[0]).decision.reason == "duplicate"
        await pilot.press("r", "1")
        assert store.lead(ids[1]).decision.reason == "competitor"
        await pilot.press("r", "0")
        assert isinstance(app.screen, ReasonPicker)  # other: a note first
        await pilot.press(*"why", "enter")
        assert store.lead(ids[2]).decision.reason == "other"


async def test_without_keys_the_numbering_is_todays(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        shown = prompts(app.screen)
        assert [p[0] for p in shown] == list("1234567890")
        assert str(app.screen.query_one("#reason-help").render()).startswith("digit: pick")
        await pilot.press("d")  # no letters in this policy: nothing happens
        assert isinstance(app.screen, ReasonPicker)
