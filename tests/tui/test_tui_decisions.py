"""Decisions from the queue and the detail screen: accept, reject, nurture, bulk, undo."""

from __future__ import annotations

from datetime import date

from tests.support.tui import NOW, messages, open_ids, table_of, until
from triage import domain
from triage.screens.detail import LeadDetailScreen
from triage.screens.queue import QueueScreen
from triage.screens.reason import ConfirmScreen, ReasonPicker
from triage.store import Store

SIZE = (120, 40)


async def set_filter(pilot, text: str) -> None:
    """Put a filter in the box without typing it key by key (the queue tests type)."""
    pilot.app.screen.query_one("#filter").value = text
    await pilot.pause()


def first_without_no(store: Store) -> int:
    """Index (in SLA order) of the first open lead with no BANT 'no'."""
    for i, lead_id in enumerate(open_ids(store)):
        if not store.lead(lead_id).has_bant_no():
            return i
    raise AssertionError("no such lead")


def first_with_no(store: Store) -> int:
    for i, lead_id in enumerate(open_ids(store)):
        if store.lead(lead_id).has_bant_no():
            return i
    raise AssertionError("no such lead")


async def test_reject_with_digit_commits_and_moves_to_next_lead(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j")
        await pilot.press("r")
        assert isinstance(app.screen, ReasonPicker)
        await pilot.press("1")
        assert isinstance(app.screen, QueueScreen)
        lead = store.lead(ids[1])
        assert lead.status is domain.Status.REJECTED
        assert lead.decision.reason == "no_budget"
        assert lead.decision.at == NOW
        # the next open lead slid under the cursor
        assert table.cursor == 1 and table.cursor_id == ids[2]
        assert table.count == 59
        assert f"Rejected {lead.name} · No budget · u to undo" in messages(app)


async def test_reason_picker_arrows_enter_and_escape(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "escape")
        assert isinstance(app.screen, QueueScreen)
        assert store.lead(ids[0]).status is domain.Status.OPEN
        await pilot.press("r", "down", "down", "enter")
        lead = store.lead(ids[0])
        assert lead.status is domain.Status.REJECTED and lead.decision.reason == "no_need"


async def test_note_required_reason_asks_for_the_note(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "0")  # the tenth reason: other (note required)
        picker = app.screen
        assert isinstance(picker, ReasonPicker)
        assert app.focused is picker.query_one("#note")
        assert "needs a note" in str(picker.query_one("#reason-message").render())
        await pilot.press("enter")  # empty note refused
        assert isinstance(app.screen, ReasonPicker)
        assert store.lead(ids[0]).status is domain.Status.OPEN
        await pilot.press(*"no fit", "enter")
        lead = store.lead(ids[0])
        assert lead.status is domain.Status.REJECTED
        assert (lead.decision.reason, lead.decision.note) == ("other", "no fit")


async def test_reject_with_optional_note_via_tab(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "down", "tab")
        app.screen.query_one("#note").value = "left in may"
        await pilot.press("enter")
        lead = store.lead(ids[0])
        assert (lead.decision.reason, lead.decision.note) == ("not_decision_maker", "left in may")


async def test_nurture_with_relative_and_absolute_dates(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "tab", "tab", *"+30d", "enter")
        lead = store.lead(ids[0])
        assert lead.status is domain.Status.NURTURE
        assert lead.decision.reason == "timing_later"
        assert lead.decision.nurture_until == date(2026, 12, 20)
        await pilot.press("n", "tab", "tab")
        app.screen.query_one("#until").value = "2027-03-01"
        await pilot.press("shift+tab", "shift+tab", "2")
        lead = store.lead(ids[1])
        assert lead.decision.reason == "early_research"
        assert lead.decision.nurture_until == date(2027, 3, 1)
        assert any("until 2027-03-01" in m for m in messages(app))


async def test_nurture_with_a_bad_date_says_so(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "tab", "tab", *"soon", "enter")
        assert isinstance(app.screen, ReasonPicker)
        assert "not a date" in str(app.screen.query_one("#reason-message").render())
        assert store.lead(ids[0]).status is domain.Status.OPEN


async def test_accept_without_bant_no_commits_at_once(app, store):
    index = first_without_no(store)
    lead_id = open_ids(store)[index]
    async with app.run_test(size=SIZE) as pilot:
        table_of(app).move_to(index)
        await pilot.press("a")
        assert isinstance(app.screen, QueueScreen)
        assert store.lead(lead_id).status is domain.Status.ACCEPTED


async def test_accept_with_bant_no_asks_first(app, store):
    index = first_with_no(store)
    lead_id = open_ids(store)[index]
    async with app.run_test(size=SIZE) as pilot:
        table_of(app).move_to(index)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert store.lead(lead_id).status is domain.Status.OPEN
        await pilot.press("a")
        await pilot.press("escape")
        assert store.lead(lead_id).status is domain.Status.OPEN
        await pilot.press("a", "y")
        assert store.lead(lead_id).status is domain.Status.ACCEPTED


async def test_undo_single_decision(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "r", "3")
        assert store.lead(ids[1]).status is domain.Status.REJECTED
        await pilot.press("u")
        assert store.lead(ids[1]).status is domain.Status.OPEN
        name = store.lead(ids[1]).name
        assert f"Undid: rejected {name} · No need" in messages(app)
        table = table_of(app)
        assert table.count == 60 and table.cursor_id == ids[1]
        await pilot.press("u")
        assert "Nothing to undo" in messages(app)


async def test_bulk_reject_with_marks_is_one_undo(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("space", "shift+down", "shift+down")  # ids 0..3
        await pilot.press("j", "j", "space")  # and ids 5
        marked = {ids[0], ids[1], ids[2], ids[3], ids[5]}
        assert table.marks == marked
        await pilot.press("r", "1")
        for lead_id in marked:
            lead = store.lead(lead_id)
            assert lead.status is domain.Status.REJECTED and lead.decision.reason == "no_budget"
        assert store.lead(ids[4]).status is domain.Status.OPEN
        assert table.marks == set() and table.count == 55
        assert "Rejected 5 leads · No budget · u to undo" in messages(app)
        await pilot.press("u")
        assert all(store.lead(i).status is domain.Status.OPEN for i in marked)
        assert "Undid: rejected 5 leads · No budget" in messages(app)
        assert table.count == 60


async def test_mark_all_then_bulk_reject_and_undo(app, store):
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await set_filter(pilot, "source:webinar")
        await pilot.press("asterisk")
        webinar = set(store.queue_ids(domain.parse_filter("source:webinar"), "sla", now=NOW))
        assert table.marks == webinar and len(webinar) == 12
        await pilot.press("r", "6")
        assert all(store.lead(i).decision.reason == "duplicate" for i in webinar)
        assert table.count == 0
        await pilot.press("escape")  # clear the filter: the rest of the queue
        assert table.count == 48
        await pilot.press("u")
        assert table.count == 60
        assert all(store.lead(i).status is domain.Status.OPEN for i in webinar)


async def test_bulk_accept_with_some_bant_no_asks_once(app, store):
    ids = open_ids(store)
    no_index = first_with_no(store)
    async with app.run_test(size=SIZE) as pilot:
        table_of(app).set_marks({ids[no_index], ids[first_without_no(store)]})
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert "1 of the 2 leads" in str(app.screen.query_one("#confirm-detail").render())
        await pilot.press("y")
        assert store.lead(ids[no_index]).status is domain.Status.ACCEPTED


async def test_store_refusal_is_shown_and_nothing_changes(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        store.decide([ids[0]], "accept")  # decided behind the table's back
        await pilot.press("r", "1")
        assert "already decided" in " ".join(messages(app))
        assert store.lead(ids[0]).status is domain.Status.ACCEPTED
        assert isinstance(app.screen, QueueScreen)


async def test_decide_from_detail_shows_the_next_lead(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, LeadDetailScreen) and detail.lead_id == ids[0]
        await pilot.press("r", "2")
        assert store.lead(ids[0]).decision.reason == "not_decision_maker"
        assert app.screen is detail and detail.lead_id == ids[1]
        await pilot.press("n", "2")
        assert store.lead(ids[1]).status is domain.Status.NURTURE
        assert detail.lead_id == ids[2]
        await pilot.press("u")  # undo shows the restored lead again
        assert detail.lead_id == ids[1]
        await pilot.press("escape")
        assert table_of(app).cursor_id == ids[1]


async def test_bant_cycling_in_detail(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        before = store.lead(ids[0]).bant_answer("budget")
        await pilot.press("1")
        after = store.lead(ids[0]).bant_answer("budget")
        assert after is domain.next_answer(before)
        checklist = str(app.screen.query_one("#bant-budget").render())
        assert {"yes": "✓ yes", "no": "✗ no", "unknown": "not yet"}[after.value] in checklist
        need = store.lead(ids[0]).bant_answer("need")
        await pilot.press("3", "4", "4")
        assert store.lead(ids[0]).bant_answer("need") is domain.next_answer(need)
        assert store.lead(ids[0]).bant_answer("timing") is domain.Answer.NO
        await pilot.press("u")  # undo the last BANT answer
        assert store.lead(ids[0]).bant_answer("timing") is domain.Answer.YES
        await pilot.press("escape")
        # the queue shows the new glyphs (cache invalidated)
        assert table_of(app).cursor_row.bant[3] == "yes"


async def test_accept_from_detail_with_bant_no_confirms(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "2", "2")  # authority: -> yes -> no
        assert store.lead(ids[0]).bant_answer("authority") is domain.Answer.NO
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert store.lead(ids[0]).status is domain.Status.ACCEPTED
        assert isinstance(app.screen, LeadDetailScreen) and app.screen.lead_id == ids[1]


async def test_deciding_the_last_lead_from_detail_returns_to_queue(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await set_filter(pilot, "source:webinar score:<20")
        table = table_of(app)
        count = table.count
        assert count >= 1
        await pilot.press("enter")
        for _ in range(count):
            await pilot.press("r", "5")
        assert isinstance(app.screen, QueueScreen)
        assert table.count == 0


async def test_stale_marks_are_dropped_and_the_rest_decided(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table_of(app).set_marks({ids[0], ids[1], ids[2]})
        store.decide([ids[1]], "accept")  # a sync decided one meanwhile
        await pilot.press("r", "7")
        assert store.lead(ids[0]).decision.reason == "existing_customer"
        assert store.lead(ids[2]).decision.reason == "existing_customer"
        assert store.lead(ids[1]).status is domain.Status.ACCEPTED
        assert "Rejected 2 leads · Existing customer · u to undo" in messages(app)


async def test_markup_in_lead_data_is_shown_as_text(app, store):
    from dataclasses import replace
    from datetime import timedelta

    from tests.support.tui import make_lead

    odd = replace(
        make_lead(500), id="L-odd", name="[b]Bracket[/b] O'Neil [", company="[red]Co",
        mql_at=NOW - timedelta(days=9), assigned_at=NOW - timedelta(days=9),
    )  # fmt: skip
    store.apply_pull([odd], [], cursor=100)
    async with app.run_test(size=SIZE) as pilot:
        assert table_of(app).cursor_id == "L-odd"
        await pilot.press("enter")
        assert "[b]Bracket[/b]" in str(app.screen.query_one("#lead-heading").render())
        await pilot.press("r", "1")
        assert "Rejected [b]Bracket[/b] O'Neil [ · No budget · u to undo" in messages(app)


async def test_nurture_until_next_monday_shows_the_date_as_typed(app, store):
    """Words a rep types become a date shown live under the field (no key to confirm);
    enter decides with it. NOW is Friday 20 November 2026: next Monday is the 23rd."""
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "tab", "tab", *"next mon")
        message = app.screen.query_one("#reason-message")
        assert "back on Monday 23 November 2026" in str(message.render())
        await pilot.press(*"xx")  # "next monxx": not a date, said so at once, nothing decided
        assert "not a date" in str(message.render())
        await pilot.press("backspace", "backspace", "enter")
        lead = store.lead(ids[0])
        assert lead.status is domain.Status.NURTURE
        assert lead.decision.nurture_until == date(2026, 11, 23)


async def test_a_decision_reaches_the_database_file_after_the_frame(app, store):
    """The window's commits leave the write-ahead log alone (Store.defer_checkpoints); a
    thread copies it into the database file once the queue shows the decision."""
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        before = store.path.read_bytes()
        await pilot.press("r", "1")
        assert store.lead(ids[0]).status is domain.Status.REJECTED
        # the checkpoint's worker starts after the frame: on a loaded machine a while after
        await until(pilot, lambda: store.path.read_bytes() != before, timeout=10)
