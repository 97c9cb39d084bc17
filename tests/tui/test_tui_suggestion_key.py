"""The queue's suggestion column ("✓82", "✗91 icp": readable without colour) and the one
key (`f`) that follows a suggestion through the usual decision flow: an accept is an
accept; a rejection opens the reason picker on the suggested reason, for the rep to
confirm with enter. The column shows only while the policy shows suggestions and some
open lead has one, and gives way on a narrow terminal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.tui import build_app, make_lead, table_of, until
from triage import domain
from triage.domain import Outcome
from triage.screens.detail import LeadDetailScreen
from triage.screens.reason import ReasonPicker
from triage.widgets.fmt import suggestion_cell
from triage.widgets.lead_table import layout_columns

REJECT_ICP = domain.Suggestion(Outcome.REJECT, "not_icp_fit", 0.91, ("title Student",))
ACCEPT = domain.Suggestion(Outcome.ACCEPT, None, 0.82, ("source webinar",))
LOW = domain.Suggestion(Outcome.REJECT, "no_budget", 0.41)
SHOWN = domain.Suggestions()


def suggest(store, pairs: dict[int, domain.Suggestion]) -> None:
    """Give the queue's leads suggestions, as a pull from the server does."""
    leads = [replace(make_lead(i), version=5, suggestion=x) for i, x in pairs.items()]
    store.apply_pull(leads, [], cursor=1000)


def header(app) -> list[str]:
    return str(table_of(app).render_line(0).text).split()


def cursor_id(app) -> str:
    return table_of(app).cursor_id


async def picker_on_suggestion(pilot, app) -> ReasonPicker:
    """`f` on a rejection suggestion: the picker, on the suggested reason."""
    await pilot.press("f")
    await until(pilot, lambda: isinstance(app.screen, ReasonPicker))
    picker = app.screen
    assert picker.reasons[picker.query_one("#reason-list").highlighted].code == "not_icp_fit"
    return picker


def test_the_narrow_form_reads_without_colour() -> None:
    assert suggestion_cell(REJECT_ICP, SHOWN) == "✗91 icp"
    assert suggestion_cell(ACCEPT, SHOWN) == "✓82"
    nurture = domain.Suggestion(Outcome.NURTURE, "timing_later", 0.7)
    assert suggestion_cell(nurture, SHOWN) == "↺70 time"
    assert suggestion_cell(domain.Suggestion(Outcome.REJECT, "went_dark_q3", 1.0), SHOWN) == (
        "✗99 went"
    )
    assert suggestion_cell(LOW, SHOWN) == ""  # below the threshold
    assert suggestion_cell(REJECT_ICP, domain.Suggestions(enabled=False)) == ""
    assert suggestion_cell(None, SHOWN) == ""


def test_the_column_gives_way_when_narrow_or_unused() -> None:
    keys = lambda cols: [c.key for c in cols]  # noqa: E731
    assert "suggestion" in keys(layout_columns(118, suggested=True))
    assert "suggestion" in keys(layout_columns(78, suggested=True))  # 80 columns
    assert "suggestion" not in keys(layout_columns(70, suggested=True))
    assert "suggestion" not in keys(layout_columns(200, suggested=False))
    assert sum(c.width for c in layout_columns(78, suggested=True)) + 9 <= 78


async def test_the_column_shows_the_suggestions_the_policy_shows(store) -> None:
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "SUGGEST" not in header(app)  # no lead has one: no column
    suggest(store, {0: REJECT_ICP, 1: LOW})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "SUGGEST" in header(app)
        table = table_of(app)
        texts = {
            table.row_at(i).id: str(table.render_line(i + 1 - round(table.scroll_y)).text)
            for i in range(table.count)
            if i < 30
        }
        shown = [t for t in texts.values() if "✗91 icp" in t]
        assert len(shown) == (1 if make_lead(0).id in texts else 0)
        assert not any("✗41" in t for t in texts.values())  # below the threshold
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "SUGGEST" in header(app)  # it fits at 80 columns
    store.save_policy(replace(store.policy(), suggestions=domain.Suggestions(False)))
    app = build_app(store)
    async with app.run_test(size=(120, 40)):
        assert "SUGGEST" not in header(app)  # the policy turned them off


async def test_f_takes_a_rejection_through_the_picker_on_its_reason(store) -> None:
    suggest(store, {i: REJECT_ICP for i in range(60)})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        lead_id = cursor_id(app)
        await picker_on_suggestion(pilot, app)
        assert store.lead(lead_id).status is domain.Status.OPEN  # not decided yet
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ReasonPicker))
        decided = store.lead(lead_id)
        assert decided.status is domain.Status.REJECTED
        assert decided.decision.reason == "not_icp_fit"


async def test_f_then_escape_decides_nothing(store) -> None:
    suggest(store, {i: REJECT_ICP for i in range(60)})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        lead_id = cursor_id(app)
        await picker_on_suggestion(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        assert store.lead(lead_id).status is domain.Status.OPEN
        await pilot.press("r")  # the plain picker starts at the top again
        await until(pilot, lambda: isinstance(app.screen, ReasonPicker))
        assert app.screen.query_one("#reason-list").highlighted == 0


async def test_f_accepts_as_a_accepts(store) -> None:
    suggest(store, {i: ACCEPT for i in range(60)})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        lead_id = cursor_id(app)
        if store.lead(lead_id).has_bant_no():
            pytest.skip("the first lead has a BANT no")  # the seed decides; not a test gap
        await pilot.press("f")
        await pilot.pause()
        assert store.lead(lead_id).status is domain.Status.ACCEPTED
        assert cursor_id(app) != lead_id  # the next lead slid under the cursor


async def test_f_without_a_suggestion_changes_nothing(store) -> None:
    suggest(store, {i: LOW for i in range(60)})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        lead_id = cursor_id(app)
        await pilot.press("f")
        await pilot.pause()
        assert store.lead(lead_id).status is domain.Status.OPEN
        assert not isinstance(app.screen, ReasonPicker)
        assert any("No suggestion for this lead" in m for m in app.shown_messages)


async def test_f_with_marks_changes_nothing(store) -> None:
    suggest(store, {i: ACCEPT for i in range(60)})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space", "space", "f")
        await pilot.pause()
        assert table_of(app).count == 60
        assert any("clears the marks" in m for m in app.shown_messages)


async def test_f_on_the_lead_screen_follows_and_moves_on(store) -> None:
    suggest(store, {i: REJECT_ICP for i in range(60)})
    app = build_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, LeadDetailScreen)
        lead_id = app.screen.lead_id
        await picker_on_suggestion(pilot, app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LeadDetailScreen))
        assert store.lead(lead_id).decision.reason == "not_icp_fit"
        assert app.screen.lead_id != lead_id
