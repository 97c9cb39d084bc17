"""One lead in full: contact, firmographics, SLA, the BANT checklist, activity and history.

Deciding here shows the next open lead of the queue in the same screen, so a rep
can work through the whole queue without leaving it. "Next" is the store's: the lead
after this one in the queue's order (its filter and sort, `QueueOrder`), whatever the
queue's table has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header

from triage import domain
from triage.domain import Outcome
from triage.screens.bant_keys import BANT_SET_BINDINGS, answer_keys_hint, help_note, set_answer
from triage.screens.messages import (
    DecisionRequested,
    FilterQueue,
    Host,
    StatusStale,
    StoreChanged,
    host,
)
from triage.screens.queue import DECISION_BINDINGS
from triage.screens.suggested import SUGGESTION_BINDING, suggested_request
from triage.store import Store
from triage.widgets.lead_view import LeadView
from triage.widgets.status_bar import StatusBar

# Same ids as the queue's (one remap moves both), but here they decide the shown lead only.
_ONLY = {
    "accept": "Accept this lead only (marks in the queue are left alone), then show the next",
    "reject": "Reject this lead only, with a reason (its key picks it at once)",
    "nurture": "Return this lead only to nurture, with a reason and an optional re-entry date",
}
DETAIL_DECISION_BINDINGS = [replace(b, tooltip=_ONLY[b.action]) for b in DECISION_BINDINGS]


@dataclass(frozen=True, slots=True)
class QueueOrder:
    """The queue's filter and sort: where "the next lead" is looked for."""

    filter: domain.Filter = field(default_factory=domain.Filter)
    sort: str = "sla"


class LeadDetailScreen(Screen[None]):
    """The lead; `1`-`4` cycle BANT answers; a/r/n decide and move on; j/k walk the queue."""

    HELP_TITLE = "Lead"

    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the queue"),
        *DETAIL_DECISION_BINDINGS,
        SUGGESTION_BINDING,
        Binding("j", "next", "Next", id="next_lead",
                tooltip="Show the next lead of the queue"),
        Binding("k", "previous", "Prev", id="previous_lead",
                tooltip="Show the previous lead of the queue"),
        Binding("at", "account", "Account", id="account", show=False,
                tooltip="Back to the queue, filtered to this lead's account (account: in the "
                        "filter): its open leads"),
        Binding("o", "reopen", "Reopen", id="reopen", show=False,
                tooltip="Open this lead again: take back your decision (any, not only the last)"),
        *(
            Binding(str(i), f"cycle_bant({i - 1})", f"BANT {i}", id=f"bant_{i}", show=False,
                    tooltip=f"Cycle the answer of BANT criterion {i}: not yet → yes → no")
            for i in range(1, 5)
        ),
        *BANT_SET_BINDINGS,
    ]  # fmt: skip

    class Shown(Message):
        """The screen moved on to another lead of the queue (next, previous, after a
        decision): the queue's cursor follows it."""

        def __init__(self, lead_id: str) -> None:
            super().__init__()
            self.lead_id = lead_id

    def __init__(self, store: Store, lead_id: str) -> None:
        super().__init__(id="detail")
        self.store = store
        self.lead_id = lead_id
        self.lead: domain.Lead | None = None
        self.order = QueueOrder()  # the app sets the queue's when it opens a lead

    @property
    def host(self) -> Host:
        return host(self)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        yield LeadView(self.host.policy, self._bant_title(), id="detail-body")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True, show_command_palette=False)

    def _bant_title(self) -> str:
        """ "BANT · keys 1-4 cycle · Q W E R yes · A S D F no · Z X C V not yet", with the
        keys of the keymap."""
        keys = [self.host.key_label(f"bant_{i}", str(i)) for i in range(1, 5)]
        shown = "1-4" if keys == ["1", "2", "3", "4"] else " ".join(keys)
        return f"BANT · keys {shown} cycle · {answer_keys_hint(self)}"

    def help_note(self) -> str:
        return help_note(self)

    def on_screen_resume(self) -> None:
        """Each time the screen is shown (it is kept installed between leads)."""
        self.show_lead(self.lead_id)
        self.query_one("#detail-body").focus()
        self.post_message(StatusStale())

    # ------------------------------------------------------------ showing

    def show_lead(self, lead_id: str) -> None:
        lead = self.store.lead(lead_id)
        if lead is None:
            self.notify("That lead is no longer in your store", severity="warning")
            return
        self.lead_id = lead_id
        self.lead = lead
        self._render_lead(lead)
        self.view.scroll_home(animate=False)

    @property
    def view(self) -> LeadView:
        return self.query_one("#detail-body", LeadView)

    def _render_lead(self, lead: domain.Lead) -> None:
        host = self.host
        self.view.show(lead, self.store.history(lead.id), now=host.now(), policy=host.policy,
                       account=self.store.account_of(lead.id), scroll_home=False)  # fmt: skip

    # ------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.dismiss()

    def action_cycle_bant(self, index: int) -> None:
        policy = self.host.policy
        if self.lead is None or index >= len(policy.bant):
            return
        lead = self.store.lead(self.lead.id) or self.lead  # as the store has it now
        self.action_set_bant(
            index, domain.next_answer(lead.bant_answer(policy.bant[index].key)).value
        )

    def action_set_bant(self, index: int, answer: str) -> None:
        """One BANT answer of the shown lead (the digits cycle it, Q..V set it)."""
        if self.lead is None:
            return
        lead = set_answer(self, self.lead.id, index, answer)
        if lead is not None:
            self.lead = lead
            self.view.show_bant(lead)

    def _decide(self, outcome: Outcome) -> None:
        if self.lead is not None:
            self.post_message(DecisionRequested(outcome, [self.lead.id]))

    def action_reopen(self) -> None:
        lead = self.lead
        if lead is None or lead.status is domain.Status.OPEN:
            self.notify("This lead is open: there is no decision to take back")
            return
        self.post_message(DecisionRequested(None, [lead.id]))

    def action_account(self) -> None:
        """The queue, filtered to the shown lead's account (as `@` on the queue does)."""
        account = self.store.account_of(self.lead_id) if self.lead is not None else None
        if account is None or account.key is None:
            self.notify("No account for this lead: no company email domain, no company",
                        severity="warning")  # fmt: skip
            return
        self.post_message(FilterQueue(f"account:{account.key}", lead_id=self.lead_id))

    def action_accept(self) -> None:
        self._decide(Outcome.ACCEPT)

    def action_reject(self) -> None:
        self._decide(Outcome.REJECT)

    def action_nurture(self) -> None:
        self._decide(Outcome.NURTURE)

    def action_take_suggestion(self) -> None:
        """The shown lead's suggestion, through the usual flow (then the next lead)."""
        lead = self.store.lead(self.lead_id) if self.lead is not None else None
        request = suggested_request(lead, self.host.policy)
        if isinstance(request, str):
            self.notify(request, severity="warning")
        else:
            self.post_message(request)

    def _neighbour(self, step: int) -> str | None:
        """The lead after (step 1) or before (-1) the shown one in the queue's order."""
        order = self.order
        return self.store.next_in_queue(
            self.lead_id, order.filter, order.sort, step=step, now=self.host.now()
        )

    def _move_to(self, lead_id: str) -> None:
        self.show_lead(lead_id)
        self.post_message(self.Shown(lead_id))

    def action_next(self) -> None:
        following = self._neighbour(1)
        if following is not None:
            self._move_to(following)

    def action_previous(self) -> None:
        preceding = self._neighbour(-1)
        if preceding is not None:
            self._move_to(preceding)

    def _decided(self) -> None:
        """The shown lead was decided: show the next open lead (the previous one after
        the last), or go back to the queue when none is left."""
        following = self._neighbour(1) or self._neighbour(-1)
        if following is None:
            self.notify("Queue clear: no more open leads")
            self.dismiss()
            return
        self._move_to(following)

    @on(StoreChanged)
    def _store_changed(self, event: StoreChanged) -> None:
        """A decision on the shown lead moves on; an undo shows the lead it restored;
        a sync or another process: the lead again, as the store has it now."""
        if event.kind == "decision":
            if self.lead_id in event.lead_ids:
                self._decided()
            return
        if event.kind == "bant":
            return  # shown by the action itself
        if event.kind == "undo" and event.lead_id is not None:
            self.show_lead(event.lead_id)
            return
        lead = self.store.lead(self.lead_id)
        if lead is not None:
            self.lead = lead
            self._render_lead(lead)
