"""Conflicts: decisions the server refused, with what it said and its version of the lead."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from triage import domain
from triage.screens.messages import Host, OpenLead, StatusStale, StoreChanged, host
from triage.store import ActionError, ConflictEntry, Store, StoreError
from triage.widgets.fmt import reason_label
from triage.widgets.status_bar import StatusBar


def explain(entry: ConflictEntry) -> str:
    return domain.explain_refusal(entry.status, entry.error)


def tried(entry: ConflictEntry, policy: domain.Policy | None = None) -> str:
    m = entry.mutation
    kind = m.get("type")
    if kind == "decide":
        text = str(m.get("outcome") or "decide")
        if m.get("reason"):
            text += f" · {reason_label(policy, m.get('outcome'), m['reason'])}"
        if m.get("note"):
            text += f" · “{m['note']}”"
        if m.get("nurture_until"):
            text += f" · until {m['nurture_until']}"
        return text
    if kind == "bant":
        answers = m.get("bant") or {}
        return "BANT " + ", ".join(f"{k}={v}" for k, v in answers.items())
    if kind == "reopen":
        return "undo (reopen)"
    return str(kind)


def entry_prompt(entry: ConflictEntry, policy: domain.Policy | None = None) -> Content:
    name = entry.lead_name or (entry.server_lead.name if entry.server_lead else entry.lead_id)
    at = entry.mutation.get("at")
    when = domain.parse_time(at).astimezone().strftime("%Y-%m-%d %H:%M") if at else ""
    lines: list[tuple[str, str] | str] = [
        (name, "bold"),
        (f"  · you, {when}" if when else "", "$text-muted"),
        ("\n  we tried:    ", "$text-muted"),
        tried(entry, policy),
        ("\n  server said: ", "$text-muted"),
        (f"{entry.status} · {entry.error or '–'}", "bold $text-error"),
        ("\n               ", ""),
        explain(entry),
    ]
    lead = entry.server_lead
    if lead is not None:
        server = lead.status.value
        if lead.decision is not None:
            d = lead.decision
            server += f" · {reason_label(policy, d.outcome.value, d.reason)}" if d.reason else ""
            server += f" by {d.by}" if d.by else ""
        lines += [("\n  server has:  ", "$text-muted"), server]
    return Content.assemble(*lines)


class ConflictsScreen(Screen[None]):
    """Each refused mutation: `d` dismisses it, `enter` opens its lead to decide again."""

    HELP_TITLE = "Conflicts"

    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to where you were"),
        Binding("d", "dismiss_conflict", "Dismiss", id="dismiss_conflict",
                tooltip="Mark the conflict under the cursor as seen"),
        Binding("enter", "open_conflict", "Open lead", id="open_conflict",
                tooltip="Open the lead (if it is still yours) to decide again; marks it seen"),
    ]  # fmt: skip

    def __init__(self, store: Store) -> None:
        super().__init__(id="conflicts")
        self.store = store
        self.entries: list[ConflictEntry] = []

    @property
    def host(self) -> Host:
        return host(self)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        yield Static(id="conflicts-info")
        yield OptionList(id="conflict-list")
        yield Static(id="conflicts-empty")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "Conflicts"
        self.reload()
        self.query_one("#conflict-list").focus()
        self.post_message(StatusStale())

    def reload(self) -> None:
        option_list = self.query_one("#conflict-list", OptionList)
        keep = option_list.highlighted or 0
        self.entries = self.store.conflicts()
        option_list.clear_options()
        options: list[Option | None] = []
        for entry in self.entries:
            if options:
                options.append(None)  # a separator line
            options.append(Option(entry_prompt(entry, self.host.policy), id=str(entry.id)))
        option_list.add_options(options)
        empty = not self.entries
        option_list.display = not empty
        placeholder = self.query_one("#conflicts-empty", Static)
        placeholder.display = empty
        if empty:
            placeholder.update(self.empty_text())
        count = len(self.entries)
        self.query_one("#conflicts-info", Static).update(
            Content.assemble(
                (f"{count} conflict{'s' if count != 1 else ''}", "bold"),
                (f"  ·  {self._keys_line()}", "$text-muted"),
            )  # fmt: skip
        )
        if self.entries:
            option_list.highlighted = min(keep, len(self.entries) - 1)

    def _keys_line(self) -> str:
        key = self.host.key_label
        return (
            f"{key('dismiss_conflict', 'd')} dismiss · {key('open_conflict', 'enter')} open "
            f"the lead to decide again · {key('back', 'esc')} back"
        )

    def empty_text(self) -> str:
        try:
            pending = self.store.pending_count()
        except StoreError:
            pending = 0
        if pending:
            waiting = "decision is" if pending == 1 else "decisions are"
            return f"No conflicts. {pending:,} {waiting} waiting to be sent."
        return "No conflicts. Every decision you made reached the server as you made it."

    def _current(self) -> ConflictEntry | None:
        index = self.query_one("#conflict-list", OptionList).highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index]

    def _resolve(self, entry: ConflictEntry) -> bool:
        try:
            self.store.resolve_conflict(entry.id)
        except (ActionError, StoreError) as exc:
            self.notify(getattr(exc, "message", str(exc)), severity="error")
            return False
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_dismiss_conflict(self) -> None:
        entry = self._current()
        if entry is None:
            return
        if self._resolve(entry):
            self.reload()
            self.post_message(StatusStale())
            self.notify(f"Dismissed the conflict on {entry.lead_name or entry.lead_id}", timeout=2)

    @on(OptionList.OptionSelected, "#conflict-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open_conflict()

    def action_open_conflict(self) -> None:
        entry = self._current()
        if entry is None:
            return
        if self.store.lead(entry.lead_id) is None:
            self.notify(
                f"{entry.lead_name or entry.lead_id} is no longer in your queue; "
                f"press {self.host.key_label('dismiss_conflict', 'd')} to dismiss the conflict",
                severity="warning",
            )
            return
        if self._resolve(entry):
            self.reload()
            self.post_message(StatusStale())
            self.post_message(OpenLead(entry.lead_id))

    @on(StoreChanged)
    def _store_changed(self, event: StoreChanged) -> None:
        if event.kind in ("sync", "outside"):
            self.reload()
