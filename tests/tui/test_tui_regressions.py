"""Regressions, a test per bug. Found by a newcomer: navigation, bulk cursor, palette
ranking, filters, notifications, labels, the conflicts screen's empty state and small
wording fixes. Issue 8: keys typed in a burst, every reason reachable, changes made by
other processes, the empty queue's words, the keymap and the help."""

from __future__ import annotations

from textual.command import CommandPalette

from tests.support.tui import (
    NOW,
    build_app,
    burst,
    make_conflict,
    messages,
    open_ids,
    table_of,
    until,
)
from triage import domain
from triage.app import make_app
from triage.screens.conflicts import ConflictsScreen
from triage.screens.detail import LeadDetailScreen
from triage.screens.help import HelpScreen
from triage.screens.queue import QueueScreen
from triage.screens.reason import ReasonPicker

SIZE = (120, 40)


async def palette_pick(pilot, query: str) -> None:
    await pilot.press("ctrl+p")
    assert CommandPalette.is_open(pilot.app)
    pilot.app.screen.query_one("CommandInput").value = query
    await pilot.pause(0.6)
    await pilot.press("down", "enter")
    await pilot.pause()


# ---------------------------------------------------------------- 1. no duplicate ids


async def test_help_over_the_queue_then_over_the_detail(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark", "escape", "enter", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert isinstance(app.screen.target, LeadDetailScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, LeadDetailScreen)


async def test_palette_jump_while_a_lead_is_open_reuses_the_detail(app, store):
    ids = open_ids(store)
    target = store.lead(ids[7])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, LeadDetailScreen) and detail.lead_id == ids[0]
        await palette_pick(pilot, target.email.split("@")[0])
        assert app.screen is detail
        assert detail.lead_id == target.id
        assert target.name in str(detail.query_one("#lead-heading").render())
        assert sum(isinstance(s, LeadDetailScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        assert table_of(app).cursor_id == target.id


async def test_resolving_a_conflict_from_a_lead_goes_back_to_the_detail(app, store):
    lead_id = make_conflict(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "c")
        assert isinstance(app.screen, ConflictsScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == lead_id
        assert store.conflicts() == []
        assert sum(isinstance(s, LeadDetailScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)


async def test_conflicts_from_a_lead_opened_from_the_conflicts(app, store):
    make_conflict(store, 5)
    make_conflict(store, 9)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "enter")
        assert isinstance(app.screen, LeadDetailScreen)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConflictsScreen)
        assert sum(isinstance(s, ConflictsScreen) for s in app.screen_stack) == 1
        assert len(app.screen.entries) == 1


# ---------------------------------------------------------------- 2. cursor after a bulk decision


async def test_bulk_decision_keeps_the_cursor_on_its_open_lead(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "j", "space", "space", "space")
        assert table.marks == set(ids[2:5]) and table.cursor_id == ids[5]
        await pilot.press("r")
        assert "Reject 3 marked leads" in str(app.screen.query_one("#reason-title").render())
        await pilot.press("1")
        assert isinstance(app.screen, QueueScreen)
        assert table.cursor_id == ids[5]  # not ids[8]: no open lead skipped
        assert table.cursor == 2


async def test_bulk_decision_with_the_cursor_on_a_mark_goes_to_the_next_open_lead(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        await pilot.press("j", "space", "space", "space", "k", "k")
        assert table.cursor_id == ids[2]
        await pilot.press("r", "1")
        assert table.cursor_id == ids[4] and table.cursor == 1


async def test_decisions_after_the_detail_with_marks_apply_to_what_the_rep_sees(app, store):
    ids = open_ids(store)
    lead = next(i for i in ids[3:] if not store.lead(i).has_bant_no())
    async with app.run_test(size=(80, 24)) as pilot:
        table = table_of(app)
        await pilot.press("space", "space")
        table.move_to(ids.index(lead))
        await pilot.press("enter", "a")  # decides the shown lead only; the marks stay
        assert store.lead(lead).status is domain.Status.ACCEPTED
        assert table.marks == {ids[0], ids[1]}
        shown = app.screen.lead_id
        await pilot.press("escape")
        assert table.cursor_id == shown
        await pilot.press("r")
        assert "Reject 2 marked leads" in str(app.screen.query_one("#reason-title").render())
        await pilot.press("5")
        assert table.cursor_id == shown  # the rep is still on the lead they were on
        await pilot.press("n")
        title = str(app.screen.query_one("#reason-title").render())
        assert title == f"Return to nurture: {store.lead(shown).name}"


async def test_detail_help_says_its_decisions_are_for_the_shown_lead_only(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "question_mark")
        tooltips = [str(s.render()) for s in app.screen.query(".help-tooltip")]
        assert any(t.startswith("Accept this lead only") for t in tooltips)
        assert any(t.startswith("Reject this lead only") for t in tooltips)


# ---------------------------------------------------------------- 3. palette ranking


async def test_palette_ranks_leads_whose_name_matches_first(app, store):
    from dataclasses import replace

    from tests.support.tui import make_lead

    quinn = replace(make_lead(100), name="Hannah Quinn", campaign="webinar-week",
                    company="Initech")  # fmt: skip
    weber = replace(make_lead(101), name="Hannah Weber", campaign="q4-launch",
                    company="Globex Logistics", source="referral")  # fmt: skip
    store.apply_pull([quinn, weber], [], cursor=200)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        app.screen.query_one("CommandInput").value = "hannah web"
        await pilot.pause(0.6)
        first = app.screen.query_one("CommandList").get_option_at_index(0)
        assert "Hannah Weber" in str(first.prompt)
        assert "Globex Logistics" in str(first.prompt) and "referral" in str(first.prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LeadDetailScreen)
        assert app.screen.lead_id == weber.id


# ---------------------------------------------------------------- 4. invalid filter


async def test_mark_all_refuses_while_the_filter_has_errors(app, store):
    async with app.run_test(size=(80, 24)) as pilot:
        table = table_of(app)
        await pilot.press("slash", *"score:abc", "enter")
        assert table.filter.errors
        info = str(app.screen.query_one("#queue-info").render())
        assert info.startswith("⚠ score:abc")  # first: visible at 80 columns
        assert app.screen.query_one("#filter").has_class("-bad-filter")
        await pilot.press("asterisk")
        assert not table.marks
        assert any(m.startswith("Nothing marked: fix the filter first") for m in messages(app))
        await pilot.press("slash", "backspace", "backspace", "backspace", "1", "0", "enter")
        assert not table.filter.errors
        assert not app.screen.query_one("#filter").has_class("-bad-filter")
        await pilot.press("asterisk")
        assert len(table.marks) == table.count > 0


# ---------------------------------------------------------------- 5. and 6. notifications


async def test_decision_toasts_name_the_reason_and_the_undo_key(app, store):
    ids = open_ids(store)
    name = store.lead(ids[0]).name
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("r", "2")
        assert f"Rejected {name} · Not a decision maker · u to undo" in messages(app)
        await pilot.pause()
        from textual.widgets._toast import Toast, ToastRack

        rack = app.screen.get_child_by_type(ToastRack)
        bar = app.screen.query_one("#status-bar")
        (toast,) = rack.query(Toast)
        assert rack.styles.margin.bottom == 2
        # the toast ends above the status bar, and is one line high
        assert toast.region.bottom <= bar.region.y and toast.region.height == 1


# ---------------------------------------------------------------- 6. and 7. conflicts screen


async def test_conflicts_screen_shows_labels_and_a_sentence_for_each_error(app, store):
    from triage.domain import REFUSALS

    for code in ("not_assigned", "already_decided", "unknown_reason", "note_required",
                 "not_decided", "not_own_decision"):  # fmt: skip
        assert code in REFUSALS
    make_conflict(store, 5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        text = str(app.screen.query_one("#conflict-list").get_option_at_index(0).prompt)
        assert "reject · No budget" in text


async def test_conflicts_empty_state_after_the_last_dismissal_counts_pending(app, store):
    make_conflict(store, 5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "1", "c")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        assert not screen.query_one("#conflicts-empty").display
        await pilot.press("d")
        await pilot.pause()
        empty = screen.query_one("#conflicts-empty")
        assert empty.display and empty.region.height > 0
        assert not screen.query_one("#conflict-list").display
        text = str(empty.render())
        assert "No conflicts. 1 decision is waiting to be sent." in text
        assert "reached the server" not in text


# ---------------------------------------------------------------- 8. small wording fixes


async def test_accept_anyway_names_the_criterion_and_counts_with_grammar(app, store):
    ids = open_ids(store)
    no = next(i for i in ids if store.lead(i).bant_answer("authority") is domain.Answer.NO)
    yes = next(i for i in ids if not store.lead(i).has_bant_no())
    lead = store.lead(no)
    async with app.run_test(size=SIZE) as pilot:
        table = table_of(app)
        table.move_to(ids.index(no))
        await pilot.press("a")
        detail = str(app.screen.query_one("#confirm-detail").render())
        assert detail == f"{lead.name}: Authority is “no”."
        await pilot.press("n")
        table.set_marks({no, yes})
        await pilot.press("a")
        detail = str(app.screen.query_one("#confirm-detail").render())
        assert detail == "1 of the 2 leads has a BANT “no”."


async def test_nurture_picker_does_not_repeat_the_criterion(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        first = str(app.screen.query_one("#reason-list").get_option_at_index(0).prompt)
        assert first.endswith("Timing: buying later")
        await pilot.press("escape", "r")
        second = str(app.screen.query_one("#reason-list").get_option_at_index(1).prompt)
        assert second.endswith("Not a decision maker · Authority")


async def test_a_sync_the_rep_asked_for_says_why_it_failed(store):
    from triage.config import Settings
    from triage.sync.engine import SyncReport

    def refused(*a, **kw):
        return SyncReport(ok=False, error="connection refused")

    settings = Settings(server_url="https://triage.example.com", token="t0k3n")
    app = make_app(
        store=store, settings=settings, db_path=store.path, clock=lambda: NOW, sync_runner=refused
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sync_view.state == "offline")
        assert not any("connection refused" in m for m in messages(app))  # not asked: quiet
        await pilot.press("s")
        await until(pilot, lambda: any("connection refused" in m for m in messages(app)))


# ---------------------------------------------------------------- issue 8.1: keys typed in a burst


async def test_reject_with_a_note_typed_in_one_burst(app, store):
    """`r` `0` picks "Other (say why)", which needs a note: the keys typed right behind
    it are the note, and enter confirms (they went to the queue, and the picker's resume
    reset the note and the highlight after them)."""
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "r", "0", *"partner deal", "enter")
        lead = store.lead(ids[0])
        assert lead.status is domain.Status.REJECTED
        assert (lead.decision.reason, lead.decision.note) == ("other", "partner deal")
        assert isinstance(app.screen, QueueScreen)
        assert table_of(app).cursor_id == ids[1]


async def test_nurture_with_a_date_typed_in_one_burst(app, store):
    ids = open_ids(store)
    today = NOW.astimezone().date()
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "n", "tab", "tab", *"+3m", "enter")
        lead = store.lead(ids[0])
        assert lead.status is domain.Status.NURTURE
        assert lead.decision.reason == "timing_later"
        assert lead.decision.nurture_until == domain.parse_nurture_until("+3m", today)


async def test_a_burst_of_decisions_is_applied_in_the_order_typed(app, store):
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "j", "r", "2", "r", "3", "n", "2", "k", "r", "0", *"dup 2", "enter")
        assert store.lead(ids[1]).decision.reason == "not_decision_maker"
        assert store.lead(ids[2]).decision.reason == "no_need"
        nurtured = store.lead(ids[3])
        assert nurtured.status is domain.Status.NURTURE
        assert nurtured.decision.reason == "early_research"
        first = store.lead(ids[0])
        assert (first.decision.reason, first.decision.note) == ("other", "dup 2")
        assert store.lead(ids[4]).status is domain.Status.OPEN
        assert isinstance(app.screen, QueueScreen)


async def test_a_burst_into_the_filter_then_a_decision(app, store):
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "slash", *"source:webinar", "enter", "r", "1")
        table = table_of(app)
        assert table.filter.source == ("webinar",)
        assert table.count == 11  # 12 webinar leads, one rejected
        assert isinstance(app.screen, QueueScreen)


async def test_a_paste_on_the_queue_is_applied_as_the_keys_it_holds(app, store):
    from textual import events

    from tests.support.tui import settle

    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(events.Paste("r0partner deal\r"))  # a bracketed paste
        await settle(pilot)
        lead = store.lead(ids[0])
        assert (lead.decision.reason, lead.decision.note) == ("other", "partner deal")
        await burst(pilot, "slash")
        app.post_message(events.Paste("source:webinar\nr1"))  # into a text field: text
        await settle(pilot)
        assert app.screen.query_one("#filter").value == "source:webinar"
        assert store.lead(ids[1]).status is domain.Status.OPEN


# ---------------------------------------------------------------- issue 8.1: every reason reachable


def twelve_reasons(store) -> list[domain.Reason]:
    from dataclasses import replace

    extra = [domain.Reason("wrong_region", "Wrong region"), domain.Reason("too_small", "Too small")]
    policy = domain.DEFAULT_POLICY
    reasons = [*policy.reject_reasons, *extra]
    store.save_policy(replace(policy, version=2, reject_reasons=tuple(reasons)))
    return reasons


async def test_a_policy_of_twelve_reasons_shows_and_reaches_every_one(store):
    reasons = twelve_reasons(store)
    ids = open_ids(store)
    app = build_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        picker = app.screen
        assert isinstance(picker, ReasonPicker)
        options = picker.query_one("#reason-list")
        assert options.option_count == 12
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(12)]
        assert prompts[11].endswith("Too small")
        await burst(pilot, *["down"] * 11, "enter")
        assert store.lead(ids[0]).decision.reason == reasons[11].code == "too_small"
        await burst(pilot, "r", "end", "up", "enter")
        assert store.lead(ids[1]).decision.reason == "wrong_region"


# ---------------------------------------------------------------- issue 8.18: toasts, keymap, help


async def test_ctrl_c_says_which_key_quits_in_words_not_markup(store):
    from textual.content import Content

    app = build_app(store, keys={"quit": "ctrl+x"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+c")
        (note,) = [n for n in app._notifications if "quit" in n.message]
        shown = Content.from_markup(note.message).plain if note.markup else note.message
        assert shown == "Press ^x to quit (every decision is already saved)"
        assert app.is_running


async def test_data_in_a_toast_is_never_markup(app, store):
    from dataclasses import replace

    from tests.support.tui import make_lead

    odd = replace(make_lead(501), id="L-odd", name="[b]Bold[/b] $accent", mql_at=NOW)
    store.apply_pull([odd], [], cursor=100)
    async with app.run_test(size=SIZE) as pilot:
        table_of(app).move_to(table_of(app).locate("L-odd"))
        await pilot.press("r", "1")
        (note,) = [n for n in app._notifications if "Bold" in n.message]
        assert not note.markup and note.message.startswith("Rejected [b]Bold[/b] $accent")


def test_a_keymap_that_gives_one_key_two_jobs_is_refused():
    import pytest

    from triage.app import KEY_SCOPES
    from triage.config import ConfigError
    from triage.keymap import check_keymap

    with pytest.raises(ConfigError) as refused:
        check_keymap({"accept": "y,a", "nurture": "a"}, KEY_SCOPES)
    message = str(refused.value)
    assert "accept (Accept)" in message and "nurture (Nurture)" in message and '"a"' in message
    with pytest.raises(ConfigError, match="undo"):
        check_keymap({"accept": "u"}, KEY_SCOPES)  # the app's undo, live on the queue too
    with pytest.raises(ConfigError, match="'rejct' is not a binding id"):
        check_keymap({"rejct": "x"}, KEY_SCOPES)
    check_keymap({"reject": "x", "accept": "r"}, KEY_SCOPES)  # a swap is fine
    check_keymap({"accept": "y,a", "help": "?"}, KEY_SCOPES)


def test_triage_refuses_to_start_with_a_clashing_keymap(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "config.toml").write_text('[keys]\naccept = "y,a"\nnurture = "a"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["TRIAGE_HOME"] = str(tmp_path)
    ran = subprocess.run(
        [sys.executable, "-m", "triage"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 2, ran.stderr
    assert "accept (Accept)" in ran.stderr and "nurture (Nurture)" in ran.stderr
    assert "Traceback" not in ran.stderr


async def test_text_that_names_a_key_names_the_active_one(store):
    from triage.screens.reason import ConfirmScreen

    keys = {"reject": "x", "undo": "z", "bant_1": "f1", "dismiss_conflict": "D",
            "confirm_yes": "Y", "close_help": "escape,f10"}  # fmt: skip
    make_conflict(store, 5)
    app = build_app(store, keys=keys)
    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        screen_text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "r then" not in screen_text and "then the reason's digit" not in screen_text
        assert "esc or f10 closes this" in screen_text
        await pilot.press("escape", "x", "1")
        assert any(m.endswith("· z to undo") for m in messages(app))
        await pilot.press("enter")
        assert "keys f1 2 3 4 cycle" in str(app.screen.query(".section-title").first().render())
        await pilot.press("escape", "c")
        assert "D dismiss" in str(app.screen.query_one("#conflicts-info").render())
        await pilot.press("escape")
        no = next(
            i
            for i in ids
            if store.lead(i).status is domain.Status.OPEN and store.lead(i).has_bant_no()
        )
        table_of(app).move_to(table_of(app).locate(no))
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#yes").label) == "Yes (Y)"


async def test_help_shows_each_binding_id_beside_its_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        ids = [str(s.render()) for s in app.screen.query(".help-id")]
        assert {"accept", "reject", "nurture", "cursor_down", "undo", "quit"} <= set(ids)
        keys = [str(s.render()) for s in app.screen.query(".help-key")]
        assert len(ids) == len(keys)
        title = str(app.screen.query_one("#help-title").render())
        assert "binding id" in title and "[keys]" in title


# ---------------------------------------------------------------- issue 8.15: other processes


async def test_the_queue_notices_what_other_processes_wrote(app, store):
    """`triage decide` and `triage sync` in another terminal write the same store: one tick
    of the data-version timer (called here directly, no sleeping) shows what they did."""
    from dataclasses import replace

    from tests.support.cli import run_cli
    from tests.support.tui import make_lead
    from triage.store import Store
    from triage.widgets.status_bar import StatusBar

    ids = open_ids(store)
    async with app.run_test(size=SIZE) as pilot:
        (timer,) = [t for t in app._timers if t.name == "data-version"]
        assert 0.5 <= timer._interval <= 2  # the tick runs on a timer of about a second
        timer.pause()  # here it ticks when the test says so (a slow machine takes seconds)
        table = table_of(app)
        await pilot.press("j", "j")
        assert table.count == 60 and table.cursor_id == ids[2]
        counts = table.stats.counts
        app.check_outside_changes()  # nothing changed: nothing reloaded
        assert table.stats.counts == counts

        other = Store.open(store.path)  # what `triage sync` in another terminal does
        try:
            new = [replace(make_lead(200 + i), id=f"L-new{i}", mql_at=NOW) for i in range(5)]
            other.apply_pull(new, [], cursor=500)
            other.record_sync(ok=True, error=None, at=NOW)
        finally:
            other.close()
        home = store.path.parent
        ran = run_cli("decide", "reject", ids[0], "--reason", "no_budget", home=home)
        assert ran.returncode == 0, ran.stderr
        await pilot.pause()
        assert table.count == 60  # not noticed before the timer ticks

        app.check_outside_changes()
        await pilot.pause()
        assert table.count == 64
        assert table.cursor_id == ids[2]  # the cursor stays on its lead
        bar = str(app.screen.query_one(StatusBar).render())
        assert "1 pending" in bar and "64 open" in bar


def test_store_data_version_moves_for_other_connections_only(store):
    from triage.store import Store

    ids = open_ids(store)
    before = store.data_version()
    store.decide([ids[0]], "accept", at=NOW)  # our own commit
    assert store.data_version() == before
    other = Store.open(store.path)
    try:
        other.decide([ids[1]], "accept", at=NOW)
    finally:
        other.close()
    assert store.data_version() != before


# ---------------------------------------------------------------- issue 8.16: the empty queue's words


def empty_line(app, line: int = 0) -> str:
    table = table_of(app)
    assert table.count == 0
    return str(table.render_line(2 + line).text).strip()


async def test_an_empty_queue_before_the_first_sync_says_it_is_fetching(tmp_path):
    import threading

    from tests.support.tui import seed_store
    from triage.config import Settings
    from triage.store import Store
    from triage.sync.engine import SyncReport

    store = seed_store(tmp_path / "triage.db", 0)  # just logged in: nothing pulled yet
    release = threading.Event()

    def first_sync(db_path, *a, **kw):
        release.wait(10)
        other = Store.open(db_path)
        try:
            other.record_sync(ok=True, error=None, at=NOW)
        finally:
            other.close()
        return SyncReport(ok=True)

    settings = Settings(server_url="https://triage.example.com", token="t0k3n")
    app = make_app(
        store=store, settings=settings, db_path=store.path, clock=lambda: NOW,
        sync_runner=first_sync,
    )  # fmt: skip
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert empty_line(app) == "Fetching your queue from triage.example.com…"
            await until(pilot, lambda: app.sync_view.state == "syncing")
            assert empty_line(app) == "Fetching your queue from triage.example.com…"
            release.set()
            await until(pilot, lambda: app.sync_view.state == "online")
            await pilot.pause()
            assert empty_line(app).startswith("No open leads: your queue is clear.")
    finally:
        release.set()
        store.close()


async def test_an_empty_queue_without_a_login_says_so(tmp_path):
    from tests.support.tui import seed_store
    from triage.config import Settings

    store = seed_store(tmp_path / "triage.db", 0)
    app = make_app(store=store, settings=Settings(), db_path=store.path, clock=lambda: NOW)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert empty_line(app) == "Not signed in: run triage login to fetch your queue."
    finally:
        store.close()


async def test_an_empty_queue_whose_first_sync_failed_says_so(tmp_path):
    from tests.support.tui import seed_store
    from triage.config import Settings
    from triage.sync.engine import SyncReport

    def refused(*a, **kw):
        return SyncReport(ok=False, error="connection refused")

    store = seed_store(tmp_path / "triage.db", 0)
    settings = Settings(server_url="https://triage.example.com", token="t0k3n")
    app = make_app(
        store=store, settings=settings, db_path=store.path, clock=lambda: NOW, sync_runner=refused
    )
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.sync_view.state == "offline")
            await pilot.pause()
            assert empty_line(app) == (
                "Could not fetch your queue from triage.example.com. Press s to try again."
            )
            assert empty_line(app, 1) == "connection refused"
    finally:
        store.close()
