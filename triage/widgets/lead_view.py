"""One lead in full: heading, contact and firmographics, SLA, the BANT checklist, activity
and decision history. The detail screen shows it full size; the queue shows it beside
the table when the terminal is wide (the preview pane). It draws what it is handed (a
lead, its local history, the policy, "now"): the screen that holds it reads the store."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from triage import domain
from triage.domain import Outcome
from triage.store import Account, HistoryEntry
from triage.widgets.bant import BantChecklist
from triage.widgets.fmt import SLA_WORDS, age_text, age_vs_sla, reason_label

STATUS_STYLE = {
    "open": "$text-accent",
    "accepted": "$text-success",
    "rejected": "$text-error",
    "nurture": "$text-warning",
}


class LeadView(VerticalScroll):
    """A lead's sections, one Static each (and the BANT checklist), updated in place."""

    def __init__(
        self,
        policy: domain.Policy,
        bant_title: str,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.policy = policy
        self.bant_title = bant_title
        self.lead: domain.Lead | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="lead-heading")
        yield Static(id="lead-facts")
        yield Static(self.bant_title, classes="section-title")
        yield BantChecklist(self.policy, id="bant")
        yield Static("Activity", classes="section-title")
        yield Static(id="lead-activity", classes="timeline")
        yield Static("Decision history", classes="section-title")
        yield Static(id="lead-history", classes="timeline")

    @property
    def lead_id(self) -> str | None:
        return None if self.lead is None else self.lead.id

    def show(
        self,
        lead: domain.Lead,
        history: list[HistoryEntry],
        *,
        now: datetime,
        policy: domain.Policy,
        account: Account | None = None,
        scroll_home: bool = True,
    ) -> None:
        """Draw `lead` (its local `history` under it). A new lead starts at the top."""
        moved = self.lead_id != lead.id
        self.lead = lead
        self.query_one("#lead-heading", Static).update(heading(lead))
        facts = with_account(lead_facts(lead, now, policy.sla_hours), account)
        facts = with_suggestion(with_import(facts, lead, policy), lead, policy)
        self.query_one("#lead-facts", Static).update(facts)
        self.query_one("#bant", BantChecklist).show(lead)
        self.query_one("#lead-activity", Static).update(activity(lead))
        self.query_one("#lead-history", Static).update(history_text(history, lead, policy))
        if moved and scroll_home:
            self.scroll_home(animate=False)

    def show_bant(self, lead: domain.Lead) -> None:
        """Only the BANT answers changed (the rep answered one)."""
        self.lead = lead
        self.query_one("#bant", BantChecklist).show(lead)


def _score(lead: domain.Lead) -> str:
    return "none" if lead.score is None else str(lead.score)


def fmt_time(dt) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else "–"


def heading(lead: domain.Lead) -> Content:
    """Name · title at company, the status, and the decision's reason and date."""
    status = lead.status.value
    parts: list[tuple[str, str]] = [(lead.name, "bold")]
    if lead.title:
        parts.append((f" · {lead.title}", ""))
    if lead.company:
        parts.append((" at ", "$text-muted"))
        parts.append((lead.company, "bold"))
    parts.append(("   ", ""))
    parts.append((f" {status.upper()} ", f"reverse bold {STATUS_STYLE.get(status, '')}"))
    if lead.decision:
        d = lead.decision
        parts.append((f" {d.reason or ''}", "$text-muted"))
        if d.nurture_until:
            parts.append((f" until {d.nurture_until.isoformat()}", "$text-muted"))
    return Content.assemble(*parts)


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


def lead_facts(lead: domain.Lead, now: datetime, sla_hours: float) -> Content:
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
    mql = f"MQL {fmt_time(lead.mql_at)}" if lead.mql_at else None
    return Content.assemble(
        *_line("Contact", [lead.email, lead.phone]),
        "\n",
        *_line("Company", [lead.company, lead.industry, size, lead.country]),
        "\n",
        *_line("Lead", [source, Content.assemble(("score ", "$text-muted"), _score(lead))]),
        "\n",
        *_line("Age", [age_content, sla_content, mql]),
    )


_ACCOUNT_WORDS = (("accepted", "accepted"), ("rejected", "rejected"),
                  ("nurture", "in nurture"), ("open", "open"))  # fmt: skip


def account_text(account: Account) -> str:
    """ "3 other leads at Cobalt Insurance: 1 accepted, 2 open"."""
    counts = [f"{account.others[k]} {word}" for k, word in _ACCOUNT_WORDS if account.others.get(k)]
    others = "other lead" if account.count == 1 else "other leads"
    return f"{account.count} {others} at {account.name}: {', '.join(counts)}"


def duplicate_text(account: Account) -> str:
    """ "possible duplicate: 2 leads with this email" (the lead itself and the others)."""
    return f"possible duplicate: {account.same_email + 1} leads with this email"


def with_account(facts: Content, account: Account | None) -> Content:
    """The facts, then the rep's other leads of the same account and the leads with the
    same email (possible duplicates), when there are some: one line."""
    if account is None or not (account.count or account.same_email):
        return facts
    parts: list = [facts, "\n", ("Account  ", "bold $text-accent")]
    if account.count:
        parts.append((account_text(account), "$text-warning"))
    if account.same_email:
        parts.append((" · " if account.count else "", "$text-muted"))
        parts.append((duplicate_text(account), "bold $text-warning"))
    return Content.assemble(*parts)


def with_import(facts: Content, lead: domain.Lead, policy: domain.Policy | None) -> Content:
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
        note("Note", f"back from {word}: {reason}, {fmt_time(past.at)[:10]}", "$text-warning")
    if lead.attributes:
        shown = (f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                 for k, v in lead.attributes.items())  # fmt: skip
        note("Imported", " · ".join(shown))
    return Content.assemble(*parts) if len(parts) > 1 else facts


def suggestion_text(lead: domain.Lead, policy: domain.Policy | None) -> str | None:
    """ "Suggested: reject, Not our ideal customer profile, 82%: title Student; source
    content; company size 1-10", or None: no suggestion, or the policy does not show it
    (turned off, or below its confidence threshold since the lead was pulled)."""
    x = lead.suggestion
    if x is None or (policy is not None and not policy.suggestions.shows(x.confidence)):
        return None
    parts = [x.outcome.value]
    if x.reason:
        parts.append(reason_label(policy, x.outcome, x.reason))
    parts.append(f"{x.confidence:.0%}")
    factors = f": {'; '.join(x.factors)}" if x.factors else ""
    return f"Suggested: {', '.join(parts)}{factors}"


def with_suggestion(facts: Content, lead: domain.Lead, policy: domain.Policy | None) -> Content:
    """The facts, then the server's suggested verdict in one line, when there is one."""
    text = suggestion_text(lead, policy)
    if text is None:
        return facts
    head, _, rest = text.partition(" ")
    return Content.assemble(facts, "\n", (head, "bold $text-accent"), " ", (rest, "italic"))


def activity(lead: domain.Lead) -> Content:
    """The lead's activity, newest first."""
    if not lead.activities:
        return Content.styled("No activity recorded.", "$text-muted")
    parts: list[tuple[str, str] | str] = []
    for a in sorted(lead.activities, key=lambda a: a.at, reverse=True):
        if parts:
            parts.append("\n")
        parts.append((f"{fmt_time(a.at)}  ", "$text-muted"))
        parts.append((f"{a.kind:<14}", "bold"))
        parts.append(a.detail)
    return Content.assemble(*parts)


def history_text(
    entries: list[HistoryEntry], lead: domain.Lead, policy: domain.Policy | None
) -> Content:
    """Earlier cycles' decisions, then this store's decisions, undos and conflicts."""
    parts: list[tuple[str, str] | str] = []
    for past in lead.history:  # earlier cycles, before marketing reassigned it
        if parts:
            parts.append("\n")
        parts.append((f"{fmt_time(past.at)}  ", "$text-muted"))
        parts.append((f"{past.outcome.value}", "bold"))
        if past.reason:
            parts.append(f" · {reason_label(policy, past.outcome, past.reason)}")
        parts.append((f" · by {past.by or 'someone'}, an earlier cycle", "$text-muted"))
    for e in entries:
        if parts:
            parts.append("\n")
        parts.append((f"{fmt_time(e.at)}  ", "$text-muted"))
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
    if not parts:
        return Content.styled("No decisions yet.", "$text-muted")
    return Content.assemble(*parts)
