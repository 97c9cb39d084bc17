"""BANT in one key per answer: shift and the key under the criterion's digit (Q W E R yes,
A S D F no, Z X C V not yet), beside the digits that cycle; in the lead screen, and in
the queue while the preview pane shows."""

from __future__ import annotations

import pytest

from tests.support.tui import build_app, burst, open_ids, table_of, until
from triage import domain
from triage.app import KEY_SCOPES
from triage.config import ConfigError
from triage.keymap import check_keymap
from triage.screens.detail import LeadDetailScreen
from triage.screens.help import sections_for

SIZE = (120, 40)
WIDE = (160, 40)
YES, NO, UNKNOWN = domain.Answer.YES, domain.Answer.NO, domain.Answer.UNKNOWN


def answers(store, lead_id) -> list[domain.Answer]:
    lead = store.lead(lead_id)
    return [lead.bant_answer(k) for k in ("budget", "authority", "need", "timing")]


async def test_one_key_sets_each_answer_in_the_lead_screen(app, store):
    lead_id = open_ids(store)[0]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, LeadDetailScreen)
        await pilot.press("S")  # authority: no, in one key (the cycle takes two)
        assert answers(store, lead_id)[1] is NO
        assert "✗ no" in str(app.screen.query_one("#bant-authority").render())
        await pilot.press("W")
        assert answers(store, lead_id)[1] is YES
        await pilot.press("X")
        assert answers(store, lead_id)[1] is UNKNOWN
        await pilot.press("Q", "D", "R")
        assert answers(store, lead_id) == [YES, UNKNOWN, NO, YES]
        await pilot.press("1")  # the digits still cycle: yes -> no
        assert answers(store, lead_id)[0] is NO
        await pilot.press("u")
        assert answers(store, lead_id)[0] is YES  # one answer, one undo step
        assert table_of(app).cursor_row.bant == ("yes", "unknown", "no", "yes")


async def test_an_answer_the_lead_has_writes_nothing(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "Q")
        pending = store.pending_count()
        await pilot.press("Q", "Q")
        assert store.pending_count() == pending


async def test_keys_typed_in_a_burst_are_all_applied_in_order(app, store):
    lead_id = open_ids(store)[0]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await burst(pilot, "Q", "W", "E", "R", "A", "S", "Z", "1")
        assert answers(store, lead_id) == [YES, NO, YES, YES]


async def test_the_lead_screen_names_the_keys_and_why(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        title = str(app.screen.query(".section-title").first().render())
        assert "keys 1-4 cycle · Q W E R yes · A S D F no · Z X C V not yet" in title
        await pilot.press("question_mark")
        lead = {e.id: e for e in dict(sections_for(app.screen.target, app))["Lead"]}
        assert lead["bant_1_yes"].keys == ("Q",) and lead["bant_4_unknown"].keys == ("V",)
        assert lead["bant_2_no"].description == "BANT 2 no"
        note = str(app.screen.query_one("#help-note").render())
        assert "Q W E R yes" in note and "q, r, a, s and c" in note


async def test_in_the_queue_they_answer_for_the_lead_in_the_preview(app, store):
    ids = open_ids(store)
    first = answers(store, ids[0])
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("j", "A", "R", "V")
        assert answers(store, ids[1])[0] is NO and answers(store, ids[1])[3] is UNKNOWN
        assert answers(store, ids[0]) == first  # not the cursor's lead: untouched
        preview = app.query_one("#preview")
        await until(pilot, lambda: preview.current)
        assert "Budget     ✗ no" in preview.text()
        assert "BANT · Q W E R yes" in preview.text()
        assert table_of(app).cursor_id == ids[1]  # the lead stays under the cursor
        assert table_of(app).cursor_row.bant[0] == "no"


async def test_in_a_narrow_queue_they_do_nothing(app, store):
    ids = open_ids(store)
    before = [answers(store, i) for i in ids[:3]]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A", "Q", "S", "j", "W")
        assert [answers(store, i) for i in ids[:3]] == before
        assert store.pending_count() == 0


async def test_they_are_remappable_and_a_clash_is_refused(store):
    app = build_app(store, keys={"bant_2_no": "f2"})
    lead_id = open_ids(store)[0]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "S")
        assert answers(store, lead_id)[1] is not NO
        await pilot.press("f2")
        assert answers(store, lead_id)[1] is NO
        assert "f2" in str(app.screen.query(".section-title").first().render()).lower()
    with pytest.raises(ConfigError, match="bant_1_yes") as refused:
        check_keymap({"bant_1_yes": "a"}, KEY_SCOPES)
    assert "accept" in str(refused.value)
