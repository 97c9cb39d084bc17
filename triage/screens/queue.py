"""The queue: the rep's open leads, filtered and sorted in SQLite, shown by a virtual table."""

from __future__ import annotations

from dataclasses import replace

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Static

from triage import domain
from triage.domain import Outcome
from triage.screens.bant_keys import BANT_SET_BINDINGS, answer_keys_hint, help_note, set_answer
from triage.screens.messages import (
    DecisionRequested,
    Host,
    OpenLead,
    StatusStale,
    StoreChanged,
    host,
)
from triage.screens.suggested import SUGGESTION_BINDING, suggested_request
from triage.screens.views import SORT_LABELS, VIEW_BINDINGS, SavedViewActions, matching
from triage.store import Store, StoreStatus
from triage.widgets.fmt import plural
from triage.widgets.lead_table import LeadTable
from triage.widgets.preview import LeadPreview
from triage.widgets.status_bar import StatusBar, SyncView

PREVIEW_WIDTH = 140  # columns: from here on, the lead under the cursor shows beside the queue

GROUPED = "account"  # the sort that groups the queue by account (b turns it on and off)

# Decision bindings shared by the queue and the detail screen (same ids: one remap moves both).
DECISION_BINDINGS = [
    Binding("a", "accept", "Accept", id="accept",
            tooltip="Accept the lead (or every marked lead): it becomes sales-accepted"),
    Binding("r", "reject", "Reject", id="reject",
            tooltip="Reject with a reason: the picker's keys pick one at once"),
    Binding("n", "nurture", "Nurture", id="nurture",
            tooltip="Return to marketing nurture with a reason and an optional re-entry date"),
]  # fmt: skip


def empty_queue_text(
    status: StoreStatus,
    sync: SyncView,
    server: str | None,
    *,
    signed_in: bool,
    sync_enabled: bool,
    sync_key: str = "s",
) -> str:
    """What an empty queue means: not signed in, the first sync still fetching (or
    failing), or a queue that is really clear."""
    if not (server and signed_in):
        return "Not signed in: run triage login to fetch your queue."
    host = server.split("://", 1)[-1]
    if status.last_sync is None:  # never synced: the queue is not known yet
        if sync.state == "syncing" or (sync.state == "never" and sync_enabled):
            return f"Fetching your queue from {host}…"
        if sync.state in ("offline", "stopped"):
            why = sync.message or "no answer"
            return f"Could not fetch your queue from {host}. Press {sync_key} to try again.\n{why}"
    return f"No open leads: your queue is clear. Press {sync_key} to look for new ones."


class QueueScreen(SavedViewActions, Screen[None]):
    """Open leads, SLA-urgent first; marks, filter, sort and decisions."""

    HELP_TITLE = "Queue"

    BINDINGS = [
        Binding("enter", "open", "Open", id="open",
                tooltip="Open the lead under the cursor: evidence, BANT checklist, history"),
        *DECISION_BINDINGS,
        SUGGESTION_BINDING,
        Binding("slash", "filter", "Filter", id="filter",
                tooltip="Filter: words, source:, campaign:, score:<N, bant:budget=no, age:>24h"),
        Binding("o", "sort", "Sort", id="sort",
                tooltip="Cycle the sort: SLA urgency, score, newest, name, company, by account"),
        Binding("O", "reverse_sort", "Reverse", id="reverse_sort", show=False,
                tooltip="Reverse the sort: the same order, the other way round"),
        Binding("at", "account", "Account", id="account", show=False,
                tooltip="The open leads of the account of the lead under the cursor "
                        "(its company's email domain, else its company): account: in the filter"),
        Binding("b", "group", "By account", id="group", show=False,
                tooltip="Group the queue by account: an account's leads together, most urgent "
                        "first (b again: the sort before)"),
        Binding("m", "mark_account", "Mark account", id="mark_account", show=False,
                tooltip="Mark every lead of the account under the cursor that the filter shows "
                        "(m again: unmark them)"),
        Binding("asterisk", "mark_all", "Mark all", id="mark_all", show=False,
                tooltip="Mark every lead that matches the filter"),
        Binding("escape", "clear", "Clear", id="clear", show=False,
                tooltip="Leave the filter box; clear the marks; then clear the filter"),
        Binding("v", "save_view", "Save view", id="save_view", show=False,
                tooltip="Save the filter and sort under a name: 1-9 show the saved views"),
        *VIEW_BINDINGS,
        *BANT_SET_BINDINGS,  # live while the preview pane shows (check_action)
    ]  # fmt: skip

    class FirstPaint(Message):
        """The queue has painted its first frame (the app starts syncing then)."""

    def __init__(self, store: Store) -> None:
        super().__init__(id="queue")
        self.store = store
        self._info = ""
        self._ungrouped = "sla"  # the sort `b` goes back to

    @property
    def host(self) -> Host:
        return host(self)

    def compose(self) -> ComposeResult:
        app = self.host
        yield Header(show_clock=False, icon="≡")
        with Horizontal(id="filter-bar"):
            yield Label("/", id="filter-prompt")
            yield Input(
                placeholder="filter: words  source:tradeshow  score:<20  bant:budget=no  age:>24h",
                id="filter",
                select_on_focus=False,
            )
        yield Static(id="queue-info")
        with Horizontal(id="queue-body"):
            table = LeadTable(self.store, clock=app.now, sla_hours=app.policy.sla_hours,
                              columns=app.settings.columns, id="leads")  # fmt: skip
            table.suggestions = app.policy.suggestions
            yield table
            yield LeadPreview(self.store, policy=lambda: self.host.policy, clock=app.now,
                              bant_title=self._bant_title, id="preview",
                              ahead=lambda: getattr(self.table.row_at(self.table.cursor + 1), "id", None))  # fmt: skip
        yield StatusBar(id="status-bar")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> LeadTable:
        return self.query_one("#leads", LeadTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def preview(self) -> LeadPreview:
        return self.query_one("#preview", LeadPreview)

    def on_mount(self) -> None:
        self.table.focus()
        # the pane draws inside the cursor's step: one screen update paints both
        self.table.cursor_moved.subscribe(self, lambda _: self._follow(), immediate=True)
        self.fit_width(self.app.size.width)
        self.post_message(StatusStale())
        self.call_after_refresh(self.post_message, self.FirstPaint())

    # ------------------------------------------------------------ the preview pane

    @property
    def wide(self) -> bool:
        """Is the preview pane shown (the terminal is PREVIEW_WIDTH columns or more)?"""
        return self.has_class("-wide")

    def fit_width(self, width: int) -> None:
        """The preview pane beside the queue from PREVIEW_WIDTH columns on; narrower, the
        queue alone, as before. Set here rather than by Textual's breakpoints, which a
        screen under another one (the lead open full size) misses when the terminal is
        resized."""
        wide = width >= PREVIEW_WIDTH
        if wide != self.wide:
            self.set_class(wide, "-wide")
            if wide:  # drawn again: it was not kept up to date while hidden
                self.preview.follow(self.table.cursor_id, changed=True)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_width(event.size.width)

    def on_screen_resume(self) -> None:
        self.fit_width(self.app.size.width)

    def _bant_title(self) -> str:
        return f"BANT · {answer_keys_hint(self)}"

    def help_note(self) -> str:
        return (
            f"{help_note(self)} Here they answer for the lead in the preview pane (shown "
            f"from {PREVIEW_WIDTH} columns on)."
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """BANT keys answer for the lead in the preview pane: only while it shows."""
        if action == "set_bant":
            return self.wide
        return True

    def action_set_bant(self, index: int, answer: str) -> None:
        """Answer a BANT question of the lead under the cursor (the one in the pane)."""
        set_answer(self, self.table.cursor_id, index, answer)

    def _follow(self, *, changed: bool = False) -> None:
        """The preview shows the lead under the cursor (nothing to do while hidden)."""
        if self.wide:
            self.preview.follow(self.table.cursor_id, changed=changed)

    # ------------------------------------------------------------ info line

    @on(LeadTable.Changed, "#leads")
    def _table_changed(self) -> None:
        self.update_info()
        self._follow()

    def update_info(self) -> None:
        table = self.table
        flt = table.filter
        noun = "open" if not flt.status else "leads"
        parts: list[tuple[str, str] | Content] = []
        if flt.errors:  # first, so a narrow terminal does not cut it off
            parts.append(("⚠ " + "; ".join(flt.errors) + " (ignored) · ", "bold $text-error"))
        parts.append((f"{table.count:,} {noun}", "bold"))
        if table.marks:
            parts.append((f" · {len(table.marks):,} marked", "bold $text-accent"))
        parts.append((f" · sort: {SORT_LABELS.get(table.sort, table.sort)}", "$text-muted"))
        query = self.filter_input.value.strip()
        view = matching(self.host.settings.views, query, table.sort)
        if view is not None:
            parts.append((f" · view {view}: {self.host.settings.views[view - 1].name}",
                          "$text-accent"))  # fmt: skip
        if query:
            parts.append((f" · filter: {query}", "$text-muted"))
        self.filter_input.set_class(bool(flt.errors), "-bad-filter")
        content = Content.assemble(*parts)
        if content.plain != self._info:  # a cursor move changes nothing here: no relayout
            self._info = content.plain
            self.query_one("#queue-info", Static).update(content)

    # ------------------------------------------------------------ filter and sort

    def on_key(self, event: events.Key) -> None:
        """Type-ahead for the filter. Keys arrive here before any binding runs, so keys
        typed in one burst after `/` would otherwise reach the queue's bindings (`u` must
        not undo) or be dropped. The filter key moves the focus at once, and printable
        keys that still come by way of the table go into the filter."""
        if self.focused is self.filter_input:
            if event.is_printable and event.character:
                self.filter_input.insert_text_at_cursor(event.character)
                event.stop()
                event.prevent_default()
            return
        active = self.active_bindings.get(event.key)
        if active is not None and active.binding.action == "filter":
            self.action_filter()
            event.stop()
            event.prevent_default()

    def action_filter(self) -> None:
        self.set_focus(self.filter_input)  # now, not later: the next keys are the filter's

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        flt = domain.parse_filter(event.value)
        if flt != self.table.filter:
            self.table.set_query(flt)
        else:  # the same filter (set_filter applied it already): only the info line
            self.update_info()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.set_focus(self.table)

    def action_sort(self) -> None:
        """The next sort, in its own direction (most urgent, highest, newest, A to Z)."""
        table = self.table
        sorts = Store.SORTS
        current = table.sort.removeprefix("-")
        following = sorts[(sorts.index(current) + 1) % len(sorts)] if current in sorts else sorts[0]
        table.set_query(table.filter, following)

    def action_group(self) -> None:
        """Group the queue by account (an account's leads together), or back to the sort
        it had before; the cursor stays on its lead."""
        table = self.table
        if table.grouped:
            sort = self._ungrouped
        else:
            self._ungrouped, sort = table.sort, GROUPED
        lead_id = table.cursor_id
        table.set_query(table.filter, sort)
        if lead_id is not None:
            table.reload(keep="id", lead_id=lead_id)

    def action_mark_account(self) -> None:
        """Mark the leads of the cursor's account that the filter shows; unmark them when
        they are all marked already."""
        table = self.table
        row = table.cursor_row
        if row is None:
            return
        if row.account is None:
            self.notify("No account for this lead: no company email domain, no company",
                        severity="warning")  # fmt: skip
            return
        flt = replace(table.filter, account=(row.account,))
        ids = set(self.store.queue_ids(flt, table.sort, now=self.host.now()))
        if ids <= table.marks:
            table.set_marks(table.marks - ids)
            self.notify(f"Unmarked {plural(len(ids), 'lead')} of {row.account}", timeout=2)
        else:
            table.set_marks(table.marks | ids)
            self.notify(f"Marked {plural(len(ids), 'lead')} of {row.account}", timeout=2)

    def action_account(self) -> None:
        """Filter the queue to the account of the lead under the cursor."""
        lead_id = self.table.cursor_id
        account = self.store.account_of(lead_id) if lead_id is not None else None
        if account is None or account.key is None:
            self.notify("No account for this lead: no company email domain, no company",
                        severity="warning")  # fmt: skip
            return
        self.set_filter(f"account:{account.key}")

    def set_filter(
        self, query: str, *, sort: str | None = None, lead_id: str | None = None
    ) -> None:
        """Filter the queue by `query` (the filter box shows it) and sort it by `sort`
        (None: as it is), the table focused; the cursor on `lead_id` when the filter
        lists it, else on the first lead."""
        table = self.table
        table.set_query(domain.parse_filter(query), sort)
        if lead_id is not None:
            table.reload(keep="id", lead_id=lead_id)
        self.filter_input.value = query  # its Input.Changed finds the same filter: no re-query
        table.focus()

    # ------------------------------------------------------------ saved views

    def action_reverse_sort(self) -> None:
        table = self.table
        sort = table.sort
        table.set_query(table.filter, sort[1:] if sort.startswith("-") else f"-{sort}")

    def action_clear(self) -> None:
        if self.focused is self.filter_input:
            self.table.focus()
        elif self.table.clear_marks():
            self.notify("Marks cleared", timeout=2)
        elif self.filter_input.value:
            self.filter_input.value = ""  # Input.Changed re-queries
            self.table.focus()

    # ------------------------------------------------------------ marks

    def action_clear_marks(self) -> None:
        self.table.clear_marks()

    def action_mark_all(self) -> None:
        table = self.table
        if table.filter.errors:  # the filter ignores what it cannot read: it lists too much
            self.notify(
                "Nothing marked: fix the filter first: " + "; ".join(table.filter.errors),
                severity="warning",
            )
            return
        ids = self.store.queue_ids(table.filter, table.sort, now=self.host.now())
        table.set_marks(set(ids))
        self.notify(f"Marked {plural(len(ids), 'lead')}", timeout=2)

    # ------------------------------------------------------------ leads

    def action_open(self) -> None:
        lead_id = self.table.cursor_id
        if lead_id is not None:
            self.post_message(OpenLead(lead_id))

    @on(LeadTable.Opened, "#leads")
    def _opened(self, event: LeadTable.Opened) -> None:
        event.stop()
        self.post_message(OpenLead(event.lead_id))

    def targets(self) -> list[str]:
        """The marked leads, or the one under the cursor."""
        table = self.table
        if table.marks:
            return list(table.marks)
        return [table.cursor_id] if table.cursor_id else []

    def _decide(self, outcome: Outcome) -> None:
        targets = self.targets()
        if not targets:
            self.notify("No lead to decide", severity="warning")
            return
        table = self.table
        bulk = bool(table.marks)
        # After a bulk decision the cursor stays on its lead if it is still open, else
        # goes to the next open one (a single decision: the next lead slides under it).
        follow = table.first_not_in(set(targets)) if bulk else None
        self.post_message(DecisionRequested(outcome, targets, bulk=bulk, follow=follow))

    def action_accept(self) -> None:
        self._decide(Outcome.ACCEPT)

    def action_reject(self) -> None:
        self._decide(Outcome.REJECT)

    def action_nurture(self) -> None:
        self._decide(Outcome.NURTURE)

    def action_take_suggestion(self) -> None:
        """The suggestion of the lead under the cursor, through the usual flow (one lead:
        the marks may each have another suggestion)."""
        if self.table.marks:
            clear = self.host.key_label("clear", "escape")
            self.notify(f"A suggestion is one lead's: {clear} clears the marks first",
                        severity="warning")  # fmt: skip
            return
        lead_id = self.table.cursor_id
        request = suggested_request(self.store.lead(lead_id) if lead_id else None, self.host.policy)
        if isinstance(request, str):
            self.notify(request, severity="warning")
        else:
            self.post_message(request)

    # ------------------------------------------------------------ refresh from the app

    @on(StoreChanged)
    def _store_changed(self, event: StoreChanged) -> None:
        """`decision` keeps the row index (or follows `lead_id`, after a bulk decision,
        whose marks it clears); the others keep the lead under the cursor."""
        table = self.table
        table.sla_hours = self.host.policy.sla_hours  # a sync may bring a new policy
        table.suggestions = self.host.policy.suggestions
        if event.bulk:
            table.marks = set()
        if event.kind == "decision" and event.lead_id is None:
            table.reload(keep="index")
        elif event.lead_id is not None:
            table.reload(keep="id", lead_id=event.lead_id)
        else:
            table.reload(keep="id")
        self._follow(changed=True)

    def show_lead(self, lead_id: str) -> None:
        """Put `lead_id` under the cursor (the lead the detail screen shows now). The
        table counts again: a change the screens have not all seen yet is then seen."""
        if self.table.cursor_id != lead_id:
            self.table.reload(keep="id", lead_id=lead_id)
