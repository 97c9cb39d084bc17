"""The queue grouped by account (issue 15): `b` puts an account's leads together (accounts
by key, each one's most urgent first) and back; the first row of an account names it with
its count; `m` marks the account's leads; the cursor, the marks and the lead screen's
next/previous follow the grouped order, with keys pressed in a burst too."""

from __future__ import annotations

from itertools import groupby

from tests.support.tui import burst, open_ids, table_of, until
from triage import domain

SIZE = (120, 40)
WIDE = (160, 40)


def rows(table) -> list:
    return [table.row_at(i) for i in range(table.count)]


async def test_b_groups_by_account_m_marks_one_and_b_goes_back(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "j", "o")  # by score, then grouped: b goes back to it
        under = table.cursor_id
        await pilot.press("b")
        assert table.sort == "account" and table.cursor_id == under  # the cursor kept its lead
        shown = rows(table)
        runs = [key for key, _ in groupby(r.account for r in shown)]
        assert runs == sorted(set(runs)) and len(runs) > 1  # each account once, A to Z
        assert [r.id for r in shown] == store.queue_ids(domain.Filter(), "account")
        assert "sort: by account" in str(app.screen.query_one("#queue-info").render())
        # an account's first row names it, with its count; the rows under it do not
        first = next(i for i, r in enumerate(shown) if r.account == shown[0].account)
        count = sum(r.account == shown[0].account for r in shown)
        assert table.groups.label(first) == (shown[0].account, f" · {count}")
        assert table.groups.label(first + 1) is None
        assert "ACCOUNT" in table.render_line(0).text
        # m: every lead of the cursor's account marked; m again: unmarked
        account = table.cursor_row.account
        members = {r.id for r in shown if r.account == account}
        await pilot.press("m")
        assert table.marks == members and len(members) > 1
        await pilot.press("m")
        assert table.marks == set()
        await pilot.press("b")
        assert table.sort == "score" and table.cursor_id == under
        assert set(ids) == {r.id for r in rows(table)}


async def test_the_lead_screen_and_the_preview_follow_the_grouped_order(app, store):
    async with app.run_test(size=WIDE) as pilot:
        table = table_of(app)
        preview = app.query_one("#preview")
        await burst(pilot, "b", "g", *"j" * 7)
        order = store.queue_ids(domain.Filter(), "account")
        assert table.cursor_id == order[7]
        await until(pilot, lambda: preview.current and preview.lead_id == order[7])
        await burst(pilot, "enter", "j", "j", "k")
        assert app.screen.id == "detail" and app.screen.lead_id == order[8]
        await pilot.press("escape")
        assert table.cursor_id == order[8]
