"""Reopen an older decision from the lead's screen (`o`): any decision of the rep's, not
only the last action's, as `triage reopen` does."""

from __future__ import annotations

from tests.support.tui import NOW, messages, open_ids, table_of, until
from triage.domain import Status

SIZE = (120, 40)


async def test_o_on_a_decided_lead_opens_it_again(app, store) -> None:
    ids = open_ids(store)
    store.decide(ids[0:3], "reject", reason="no_budget", at=NOW)  # a bulk decision
    store.decide([ids[5]], "accept", at=NOW)  # and a later one: undo would take that
    async with app.run_test(size=SIZE) as pilot:
        app.open_lead(ids[1])
        await pilot.pause()
        await pilot.press("o")
        await until(pilot, lambda: store.lead(ids[1]).status is Status.OPEN)
        assert any(m.startswith("Reopened ") for m in messages(app))
        assert store.lead(ids[0]).status is Status.REJECTED  # the rest of the bulk stands
        assert store.lead(ids[5]).status is Status.ACCEPTED
        assert app.screen.lead_id == ids[1]  # the lead, open, still shown
        await pilot.press("o")  # open now: nothing to take back
        assert any("no decision to take back" in m for m in messages(app))
        await pilot.press("escape")  # the queue lists it again
        table = table_of(app)
        await until(pilot, lambda: table.count == len(ids) - 3)
        assert ids[1] in {table.row_at(i).id for i in range(table.count)}
