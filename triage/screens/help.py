"""Help: generated from the bindings in force (the screen's, its widgets', the app's), so it never drifts."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from triage.keymap import keys_of, own_bindings


@dataclass(frozen=True, slots=True)
class HelpEntry:
    id: str
    keys: tuple[str, ...]
    description: str
    tooltip: str


def entries_for(node: DOMNode, app: App) -> list[HelpEntry]:
    """One entry per binding id, with the keys the keymap gives it now."""
    keymap: dict[str, str] = dict(getattr(app, "keymap", {}) or {})
    seen: dict[str, HelpEntry] = {}
    for binding in own_bindings(type(node)):
        binding_id = binding.id or binding.action
        if binding_id in seen:
            continue
        keys = tuple(
            app.get_key_display(Binding(k, binding.action)) for k in keys_of(binding, keymap)
        )
        seen[binding_id] = HelpEntry(binding_id, keys, binding.description, binding.tooltip)
    return list(seen.values())


def sections_for(screen: Screen, app: App) -> list[tuple[str, list[HelpEntry]]]:
    sections: list[tuple[str, list[HelpEntry]]] = []
    for widget in screen.query("*"):
        entries = entries_for(widget, app)
        if entries:
            sections.append((getattr(widget, "HELP_TITLE", type(widget).__name__), entries))
    own = entries_for(screen, app)
    if own:
        sections.insert(0, (getattr(screen, "HELP_TITLE", type(screen).__name__), own))
    sections.append(("Everywhere", entries_for(app, app)))
    return sections


class HelpScreen(ModalScreen[None]):
    """Every key of the screen it was opened from, and the app's, with what it does."""

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="close_help",
                tooltip="Close the help"),
    ]  # fmt: skip

    def __init__(self, target: Screen) -> None:
        super().__init__(id=f"help-{type(target).__name__}")
        self.target = target

    def compose(self) -> ComposeResult:
        title = getattr(self.target, "HELP_TITLE", type(self.target).__name__)
        sections = sections_for(self.target, self.app)
        close = next(e for e in entries_for(self, self.app) if e.id == "close_help")
        closers = (
            ", ".join(close.keys[:-1]) + f" or {close.keys[-1]}"
            if len(close.keys) > 1
            else close.keys[0]
        )
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Static(
                Content.assemble(
                    (f"Keys: {title}", "bold"),
                    (f"    {closers} closes this", "$text-muted"),
                    ("\nThe third column is each key's binding id: ", "$text-muted"),
                    ("[keys]", "$text-muted bold"),
                    (' in config.toml moves it (reject = "x").', "$text-muted"),
                ),
                id="help-title",
            )
            note = getattr(self.target, "help_note", None)
            if note is not None:
                yield Static(Content(note()), id="help-note")
            for section, entries in sections:
                yield Static(section, classes="help-section")
                with Grid(classes="help-grid"):
                    for e in entries:
                        yield Static(Content(" ".join(e.keys)), classes="help-key")
                        yield Static(Content(e.description), classes="help-description")
                        yield Static(Content(e.id), classes="help-id")
                        yield Static(Content(e.tooltip), classes="help-tooltip")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        if self.is_active:
            self.dismiss()
