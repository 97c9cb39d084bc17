"""The reason picker (reject / nurture) and the "accept anyway?" confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from triage import domain
from triage.domain import Outcome
from triage.screens.messages import host


@dataclass(frozen=True, slots=True)
class ReasonChoice:
    code: str
    note: str | None = None
    nurture_until: date | None = None


_DIGIT_BINDINGS = [
    Binding(str(d), f"pick_key('{d}')", f"Reason {d}", id=f"reason_{d}", show=False,
            tooltip=f"Pick the reason shown with {d}, at once")
    for d in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)
]  # fmt: skip


class ReasonPicker(ModalScreen[ReasonChoice | None]):
    """Pick a reason: its key picks it at once (the policy's own `key` for the reason, a
    digit or a letter; else the reasons are numbered 1-9, then 0, skipping the digits the
    policy gave); arrows (and page down, end) reach every reason, enter picks it. A reason
    that needs a note asks for it first."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel",
                tooltip="Close the picker; nothing is decided"),
        *_DIGIT_BINDINGS,
    ]  # fmt: skip

    def __init__(
        self,
        policy: domain.Policy,
        outcome: Outcome,
        subject: str,
        *,
        today: date,
    ) -> None:
        super().__init__()
        self.policy = policy
        self.outcome = Outcome(outcome)
        self.reasons = policy.reasons_for(self.outcome)
        self.keys = domain.picker_keys(self.reasons)  # the key of each reason, or None
        self.subject = subject
        self.today = today
        self.bulk = False  # the marked leads of the queue, not one lead
        self.suggested: str | None = None  # the reason to start on (the suggestion's)

    def compose(self) -> ComposeResult:
        labels = {c.key: c.label for c in self.policy.bant}
        with Vertical(id="reason-dialog", classes="dialog"):
            yield Label(self._title(), id="reason-title")
            options = []
            for i, reason in enumerate(self.reasons):
                extra: list[tuple[str, str]] = []
                criterion = labels.get(reason.bant, reason.bant) if reason.bant else ""
                if criterion and not reason.label.lower().startswith(criterion.lower()):
                    extra.append((f" · {criterion}", "$text-muted"))
                if reason.note_required:
                    extra.append((" · note required", "$text-warning"))
                prompt = Content.assemble(
                    (f"{self.keys[i] or ' '}  ", "bold $text-accent"), reason.label, *extra
                )
                options.append(Option(prompt, id=reason.code))
            yield OptionList(*options, id="reason-list")
            yield Input(placeholder="note (optional; tab to here, enter to confirm)", id="note")
            if self.outcome is Outcome.NURTURE:
                yield Input(placeholder="bring back (optional): next monday, in 3 weeks, Q2",
                            id="until")  # fmt: skip
            yield Static("", id="reason-message")
            yield Static(self._help_line(), id="reason-help")

    def _help_line(self) -> str:
        fields = "note, date" if self.outcome is Outcome.NURTURE else "note"
        cancel = host(self).key_label("cancel", "esc")
        own = any(r.key is not None for r in self.reasons)  # keys of the policy's own
        word = "key" if any(k is not None and k.isalpha() for k in self.keys) else "digit"
        if None in self.keys:  # some reasons have no key: the digits ran out
            which = "one shown with a key" if own else "one of the first 10"
            return f"{word}: {which} · ↑↓ enter: any · tab: {fields} · {cancel}: cancel"
        return f"{word}: pick · ↑↓ enter: pick · tab: {fields} · {cancel}: cancel"

    def _title(self) -> Content:
        """ "Reject: Liam Costa" for one lead, "Reject 2 marked leads" for the marks."""
        verb = "Reject" if self.outcome is Outcome.REJECT else "Return to nurture"
        return Content.assemble(
            (f"{verb} " if self.bulk else f"{verb}: ", "bold"), (self.subject, "bold $text-accent")
        )

    def prepare(
        self, subject: str, today: date, *, bulk: bool = False, suggested: str | None = None
    ) -> ReasonPicker:
        """Reuse the picker for another decision (the app keeps one per outcome): a fresh
        title, empty fields, the first reason (or the `suggested` one, said below the
        list), set now, before the picker is pushed, so that no key typed after the one
        that opened it is undone by a late reset."""
        self.subject = subject
        self.today = today
        self.bulk = bulk
        self.suggested = suggested
        if self.is_mounted:
            self._reset()
        return self

    def on_mount(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.query_one("#reason-title", Label).update(self._title())
        for field in self.query(Input):
            field.value = ""
        codes = [r.code for r in self.reasons]
        start = codes.index(self.suggested) if self.suggested in codes else 0
        message = ""
        if self.suggested in codes:
            message = Content.styled(
                f"Suggested: {self.reasons[start].label} · enter takes it, or pick another",
                "$text-accent",
            )
        self.query_one("#reason-message", Static).update(message)
        option_list = self.query_one("#reason-list", OptionList)
        option_list.highlighted = start
        option_list.scroll_home(animate=False)
        if start:
            option_list.call_after_refresh(option_list.scroll_to_highlight)
        self.set_focus(option_list, scroll_visible=False)

    # ------------------------------------------------------------ picking

    def on_key(self, event: events.Key) -> None:
        """A letter the policy gave a reason picks it (digits are bindings: reason_1 ...).
        Not while a text field has the focus: there a letter is text."""
        if isinstance(self.focused, Input) or not event.character:
            return
        key = event.character.lower()
        letters = any(k is not None and k.isalpha() for k in self.keys)
        if letters and key.isalpha() and key.isascii():  # a letter this picker may know
            event.stop()
            event.prevent_default()
            self.action_pick_key(key)

    def action_pick_key(self, key: str) -> None:
        """Pick the reason shown with `key`."""
        if key not in self.keys:
            self._say(f"There is no reason with the key {key}.")
            return
        index = self.keys.index(key)
        self.query_one("#reason-list", OptionList).highlighted = index
        self._submit(index)

    def action_cancel(self) -> None:
        self._close(None)

    def _close(self, choice: ReasonChoice | None) -> None:
        """Dismiss once: a second enter or click on the way out must not pop the screen
        below it (with one screen left that is a crash)."""
        if self.is_active:
            self.dismiss(choice)

    @on(OptionList.OptionSelected, "#reason-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._submit(event.option_index)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        highlighted = self.query_one("#reason-list", OptionList).highlighted
        self._submit(0 if highlighted is None else highlighted)

    def _submit(self, index: int) -> None:
        if not self.is_active or not 0 <= index < len(self.reasons):
            return
        reason = self.reasons[index]
        note_input = self.query_one("#note", Input)
        note = note_input.value.strip() or None
        if reason.note_required and not note:
            self._say(f"“{reason.label}” needs a note: type it, then press enter.")
            self.set_focus(note_input)  # the next keys are the note
            return
        until = None
        if self.outcome is Outcome.NURTURE:
            until_input = self.query_one("#until", Input)
            if until_input.value.strip():
                try:
                    until = domain.parse_nurture_until(until_input.value, self.today)
                except ValueError as exc:
                    self._say(str(exc))
                    until_input.focus()
                    return
        self._close(ReasonChoice(reason.code, note, until))

    @on(Input.Changed, "#until")
    def _until_changed(self, event: Input.Changed) -> None:
        """The date the words make, shown as they are typed: no key to confirm it."""
        text = event.value.strip()
        if not text:
            self.query_one("#reason-message", Static).update("")
            return
        try:
            found = domain.parse_nurture_until(text, self.today)
        except ValueError as exc:
            self.query_one("#reason-message", Static).update(
                Content.styled(str(exc), "$text-muted")
            )
            return
        shown = f"→ back on {found:%A} {found.day} {found:%B %Y}"
        self.query_one("#reason-message", Static).update(Content.styled(shown, "$text-success"))

    def _say(self, message: str) -> None:
        self.query_one("#reason-message", Static).update(Content.styled(message, "$text-warning"))


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; escape or n answers no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes", tooltip="Yes, go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no", tooltip="No, change nothing"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(Content.styled(self.question, "bold"), id="confirm-question")
            if self.detail:
                yield Static(Content(self.detail), id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yes = host(self).key_label("confirm_yes", "y")
                no = host(self).key_label("confirm_no", "n")
                yield Button(f"Yes ({yes})", variant="warning", id="yes")
                yield Button(f"No ({no})", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        if self.is_active:  # answered once only (a double click)
            self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")
