"""A decided lead that marketing reassigns with --force starts a new cycle: its new owner
pulls it open, with the earlier decision's outcome, reason and date (never its note), and
the lead's detail screen shows it."""

from __future__ import annotations

from tests.support.client import device
from tests.support.factories import lead_row
from tests.support.tui import build_app


async def test_the_new_owner_sees_the_earlier_decision_but_not_its_note(live_sqlite, tmp_path):
    live = live_sqlite
    live.upsert([lead_row(1, owner="bob@example.com"), lead_row(2)])
    bob = device(tmp_path, live, live.bob, "bob")
    assert bob.sync().ok
    [lead_id] = bob.open_ids()
    bob.decide([lead_id], "reject", "other", note="their CFO said no on the call")
    assert bob.sync().ok
    live.backend.assign(lead_id, "ann@example.com", force=True)
    ann = device(tmp_path, live, live.ann, "ann")
    assert ann.sync().ok
    with ann.open() as store:
        lead = store.lead(lead_id)
        assert lead is not None and lead.status.value == "open" and lead.decision is None
        [past] = lead.history
        assert (past.outcome.value, past.reason, past.by) == ("reject", "other", "bob@example.com")
        assert "CFO" not in str(lead)  # the note stays with bob's cycle
        app = build_app(store)
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_lead(lead_id)
            await pilot.pause()
            history = str(app.screen.query_one("#lead-history").render())
            assert "reject · Other (say why) · by bob@example.com, an earlier cycle" in history
            assert "CFO" not in history
