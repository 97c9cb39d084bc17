"""One lead in full: contact, firmographics, SLA, the BANT checklist, activity and history.

Deciding here shows the next open lead of the queue in the same screen, so a rep
can work through the whole queue without leaving it. "Next" is the store's: the lead
after this one in the queue's order (its filter and sort, `QueueOrder`), whatever the
queue's table has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from triage import domain
from triage.domain import Outcome
from triage.screens.messages import (
    DecisionRequested,
    Host,
    StatusStale,
    StoreChanged,
    StoreWritten,
    host,
)
from triage.screens.queue import DECISION_BINDINGS
from triage.store import ActionError, HistoryEntry, Store, StoreError
from triage.widgets.bant import BantChecklist
from triage.widgets.fmt import SLA_WORDS, age_text, age_vs_sla, reason_label
from triage.widgets.status_bar import StatusBar

STATUS_STYLE = {
    "open": "$text-accent",
    "accepted": "$text-success",
    "rejected": "$text-error",
    "nurture": "$text-warning",
}


def _score(lead: domain.Lead) -> str:
    return "none" if lead.score is None else str(lead.score)


def _fmt_time(dt) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else "–"


def _with_import(facts: Content, lead: domain.Lead, policy: domain.Policy | None) -> Content:
    """The lead's facts, then what marketing's import said of it: a possible duplicate, a
    new cycle after nurture or rejection, and the attributes of marketing's file."""
    parts: list = [facts]

    def note(label: str, text: str, style: str = "") -> None:
        parts.extend(["\n", (f"{label:<9}", "bold $text-accent"), (text, style)])

    dup = lead.duplicate_of
    if dup:
        other = " ".join(p for p in (dup.get("external_id") or dup.get("id"), dup.get("name")) if p)
        owner = f" ({dup['owner']})" if dup.get("owner") else ""
        note("Note", f"possible duplicate of {other}{owner}", "$text-warning")
    past = lead.history[-1] if lead.history else None
    if lead.status == domain.Status.OPEN and past and past.outcome != Outcome.ACCEPT:
        word = "nurture" if past.outcome == Outcome.NURTURE else "rejection"
        reason = reason_label(policy, past.outcome, past.reason) if past.reason else "no reason"
        note("Note", f"back from {word}: {reason}, {_fmt_time(past.at)[:10]}", "$text-warning")
    if lead.attributes:
        shown = (f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                 for k, v in lead.attributes.items())  # fmt: skip
        note("Imported", " · ".join(shown))
    return Content.assemble(*parts) if len(parts) > 1 else facts


# Same ids as the queue's (one remap moves both), but here they decide the shown lead only.
_ONLY = {
    "accept": "Accept this lead only (marks in the queue are left alone), then show the next",
    "reject": "Reject this lead only, with a reason (a digit picks it at once)",
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
        Binding("j", "next", "Next", id="next_lead",
                tooltip="Show the next lead of the queue"),
        Binding("k", "previous", "Prev", id="previous_lead",
                tooltip="Show the previous lead of the queue"),
        *(
            Binding(str(i), f"cycle_bant({i - 1})", f"BANT {i}", id=f"bant_{i}", show=False,
                    tooltip=f"Cycle the answer of BANT criterion {i}: not yet → yes → no")
            for i in range(1, 5)
        ),
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
        with VerticalScroll(id="detail-body"):
            yield Static(id="lead-heading")
            yield Static(id="lead-facts")
            yield Static(self._bant_title(), classes="section-title")
            yield BantChecklist(self.host.policy, id="bant")
            yield Static("Activity", classes="section-title")
            yield Static(id="lead-activity", classes="timeline")
            yield Static("Decision history", classes="section-title")
            yield Static(id="lead-history", classes="timeline")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True, show_command_palette=False)

    def _bant_title(self) -> str:
        """ "BANT · keys 1-4 cycle the rep's answer", with the keys of the keymap."""
        keys = [self.host.key_label(f"bant_{i}", str(i)) for i in range(1, 5)]
        shown = "1-4" if keys == ["1", "2", "3", "4"] else " ".join(keys)
        return f"BANT · keys {shown} cycle the rep's answer"

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
        self.query_one("#detail-body", VerticalScroll).scroll_home(animate=False)

    def _render_lead(self, lead: domain.Lead) -> None:
        self.query_one("#lead-heading", Static).update(_heading(lead))
        facts = _facts(lead, self.host.now(), self.host.policy.sla_hours)
        self.query_one("#lead-facts", Static).update(_with_import(facts, lead, self.host.policy))
        self.query_one("#bant", BantChecklist).show(lead)
        self._render_activity(lead)
        self._render_history(self.store.history(lead.id), lead)

    def _render_activity(self, lead: domain.Lead) -> None:
        if not lead.activities:
            text = Content.styled("No activity recorded.", "$text-muted")
        else:
            parts: list[tuple[str, str] | str] = []
            for a in sorted(lead.activities, key=lambda a: a.at, reverse=True):
                if parts:
                    parts.append("\n")
                parts.append((f"{_fmt_time(a.at)}  ", "$text-muted"))
                parts.append((f"{a.kind:<14}", "bold"))
                parts.append(a.detail)
            text = Content.assemble(*parts)
        self.query_one("#lead-activity", Static).update(text)

    def _render_history(self, entries: list[HistoryEntry], lead: domain.Lead) -> None:
        parts: list[tuple[str, str] | str] = []
        for past in lead.history:  # earlier cycles, before marketing reassigned it
            if parts:
                parts.append("\n")
            parts.append((f"{_fmt_time(past.at)}  ", "$text-muted"))
            parts.append((f"{past.outcome.value}", "bold"))
            if past.reason:
                parts.append(f" · {reason_label(self.host.policy, past.outcome, past.reason)}")
            parts.append((f" · by {past.by or 'someone'}, an earlier cycle", "$text-muted"))
        for e in entries:
            if parts:
                parts.append("\n")
            parts.append((f"{_fmt_time(e.at)}  ", "$text-muted"))
            if e.kind == "decide":
                parts.append((f"{e.outcome}", "bold"))
                parts.append(f" · {e.reason}" if e.reason else "")
                parts.append(f" · “{e.note}”" if e.note else "")
            elif e.kind == "undo":
                parts.append((f"undone ({e.outcome})", "$text-muted"))
            else:
                parts.append((f"{e.kind}: {e.error or ''}", "$text-error"))
        if lead.decision and lead.decision.by and not entries:
            d = lead.decision
            parts.append(f"{d.outcome.value} by {d.by}")
        text = (
            Content.assemble(*parts)
            if parts
            else Content.styled("No decisions yet.", "$text-muted")
        )
        self.query_one("#lead-history", Static).update(text)

    # ------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.dismiss()

    def action_cycle_bant(self, index: int) -> None:
        policy = self.host.policy
        if self.lead is None or index >= len(policy.bant):
            return
        key = policy.bant[index].key
        try:
            self.store.cycle_bant(self.lead.id, key)
        except (ActionError, StoreError) as exc:
            self.notify(getattr(exc, "message", str(exc)), severity="error")
            return
        lead = self.store.lead(self.lead.id)
        if lead is not None:
            self.lead = lead
            self.query_one("#bant", BantChecklist).show(lead)
        self.post_message(StoreWritten("bant", lead_id=self.lead_id))

    def _decide(self, outcome: Outcome) -> None:
        if self.lead is not None:
            self.post_message(DecisionRequested(outcome, [self.lead.id]))

    def action_accept(self) -> None:
        self._decide(Outcome.ACCEPT)

    def action_reject(self) -> None:
        self._decide(Outcome.REJECT)

    def action_nurture(self) -> None:
        self._decide(Outcome.NURTURE)

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


def _heading(lead: domain.Lead) -> Content:
    """Name · title at company, the status, and the decision's reason and date."""
    status = lead.status.value
    heading: list[tuple[str, str]] = [(lead.name, "bold")]
    if lead.title:
        heading.append((f" · {lead.title}", ""))
    if lead.company:
        heading.append((" at ", "$text-muted"))
        heading.append((lead.company, "bold"))
    heading.append(("   ", ""))
    heading.append((f" {status.upper()} ", f"reverse bold {STATUS_STYLE.get(status, '')}"))
    if lead.decision:
        d = lead.decision
        heading.append((f" {d.reason or ''}", "$text-muted"))
        if d.nurture_until:
            heading.append((f" until {d.nurture_until.isoformat()}", "$text-muted"))
    return Content.assemble(*heading)


def _line(label: str, values: list[str | Content | None]) -> list:
    """`label` then the values that are there, separated by dots (a dash for none)."""
    parts: list = [(f"{label:<9}", "bold $text-accent")]
    shown = [v for v in values if v]
    for i, value in enumerate(shown):
        if i:
            parts.append((" · ", "$text-muted"))
        parts.append(value)
    if not shown:
        parts.append(("–", "$text-muted"))
    return parts


_AGE_STYLE = {"fresh": "$text-success", "due": "$text-warning", "late": "$text-error",
              "very-late": "bold $text-error"}  # fmt: skip


def _facts(lead: domain.Lead, now: datetime, sla_hours: float) -> Content:
    """Contact, company, source and score, and the age on the SLA clock."""
    started = domain.sla_start(lead.assigned_at, lead.mql_at)
    _age, level = age_vs_sla(started, now, sla_hours)
    age_style = _AGE_STYLE[level]
    source = " / ".join(p for p in (lead.source, lead.campaign) if p) or None
    hours = domain.age_hours(started, now)
    since = " since assigned" if lead.assigned_at is not None else " since MQL"
    age_content = Content.assemble((age_text(hours), age_style), (since, "$text-muted"))
    sla_content = Content.styled(SLA_WORDS[level].format(h=f"{sla_hours:g}"), age_style)
    size = f"{lead.company_size} staff" if lead.company_size else None
    mql = f"MQL {_fmt_time(lead.mql_at)}" if lead.mql_at else None
    return Content.assemble(
        *_line("Contact", [lead.email, lead.phone]),
        "\n",
        *_line("Company", [lead.company, lead.industry, size, lead.country]),
        "\n",
        *_line("Lead", [source, Content.assemble(("score ", "$text-muted"), _score(lead))]),
        "\n",
        *_line("Age", [age_content, sla_content, mql]),
    )
