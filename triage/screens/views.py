"""Saved views: the queue's filter and sort under a name, recalled with one key.

`v` on the queue names the current filter and sort (`SaveViewScreen`); the digits `1`-`9`
recall the views in the order they were saved (the palette lists them too). They live in
config.toml as `[[views]]` (name, filter, sort), per profile, so a rep can also edit or
reorder them there. Saving a name that exists replaces that view in its place (its key
stays); a tenth view is refused: edit config.toml to drop one.

Why the digits: on the queue they do nothing else (the reason picker's digits belong to
the picker, a screen of its own, and the preview pane answers BANT with shifted letters),
and a digit is one key where the issue asks for one.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from triage.config import MAX_VIEWS, ConfigError, SavedView, save_views
from triage.screens.messages import host

SORT_LABELS = {
    "sla": "SLA urgency",
    "score": "score",
    "age": "newest",
    "name": "name",
    "company": "company",
    "account": "by account",
    # reversed (`O`): the same order the other way round
    "-sla": "least urgent first",
    "-score": "lowest score first",
    "-age": "oldest",
    "-name": "name, Z to A",
    "-company": "company, Z to A",
    "-account": "by account, Z to A",
}

VIEW_BINDINGS = [
    Binding(str(n), f"view({n})", f"View {n}", id=f"view_{n}", show=False,
            tooltip=f"Show saved view {n}: its filter and sort (v saves one)")
    for n in range(1, MAX_VIEWS + 1)
]  # fmt: skip


def with_view(views: list[SavedView], view: SavedView) -> tuple[list[SavedView], int]:
    """`views` with `view` saved, and its number (1-based): a view of the same name
    (case aside) is replaced in its place, else `view` goes last. Raises ValueError when
    all nine places are taken."""
    out = list(views)
    for i, old in enumerate(out):
        if old.name.casefold() == view.name.casefold():
            out[i] = view
            return out, i + 1
    if len(out) >= MAX_VIEWS:
        raise ValueError(
            f"{MAX_VIEWS} views saved already: save under one of their names to replace "
            "it, or drop one from config.toml"
        )
    out.append(view)
    return out, len(out)


def matching(views: list[SavedView], query: str, sort: str) -> int | None:
    """The number of the view that is the queue's filter text and sort now, if any."""
    for n, view in enumerate(views, 1):
        if view.filter == query and view.sort == sort:
            return n
    return None


class SaveViewScreen(ModalScreen[str | None]):
    """Name the queue's filter and sort; enter saves, escape cancels. Dismisses with the
    name (None: cancelled)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_view", tooltip="Save nothing"),
    ]

    def __init__(self, view: SavedView, number: int, sort_label: str) -> None:
        super().__init__()
        self.view = view  # the filter and sort to save (its name: the one proposed)
        self.number = number  # the key it will have, if it is a new name
        self.sort_label = sort_label  # the sort in words ("least urgent first")

    def compose(self) -> ComposeResult:
        shown = self.view.filter or "none"
        with Vertical(id="view-dialog", classes="dialog"):
            yield Label(Content.styled("Save this view of the queue", "bold"), id="view-title")
            yield Static(
                Content.assemble(
                    ("filter: ", "$text-muted"), shown, ("  sort: ", "$text-muted"), self.sort_label
                ),
                id="view-what",
            )
            yield Input(value=self.view.name, placeholder="a name for it", id="view-name")
            key = host(self).key_label(f"view_{self.number}", str(self.number))
            yield Static(
                f"enter saves it: {key} on the queue shows it (a name saved before is replaced, "
                "its key kept) · escape cancels",
                id="view-help",
            )

    def on_mount(self) -> None:
        self.query_one("#view-name", Input).focus()

    @on(Input.Submitted, "#view-name")
    def _submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not name:
            self.notify("Give the view a name (or escape)", severity="warning")
            return
        if self.is_active:
            self.dismiss(name)

    def action_cancel(self) -> None:
        if self.is_active:
            self.dismiss(None)


class SavedViewActions:
    """The queue's saved views (`v` saves the filter and sort under a name, `1`-`9` show
    one): a part of QueueScreen, which gives `host`, `table`, `filter_input`,
    `set_filter` and `update_info`."""

    def action_save_view(self) -> None:
        """Ask for a name, then save the filter and sort as a view (config.toml)."""
        views = self.host.settings.views
        query, sort = self.filter_input.value.strip(), self.table.sort
        number = matching(views, query, sort)
        name = views[number - 1].name if number else query or SORT_LABELS.get(sort, sort)
        number = number or min(len(views) + 1, len(VIEW_BINDINGS))

        def save(chosen: str | None) -> None:
            if chosen is not None:
                self.save_view(SavedView(chosen, query, sort))

        label = SORT_LABELS.get(sort, sort)
        self.app.push_screen(SaveViewScreen(SavedView(name, query, sort), number, label), save)

    def save_view(self, view: SavedView) -> None:
        """Save `view` (replacing one of its name) in config.toml, and say its key."""
        settings = self.host.settings
        try:
            views, number = with_view(settings.views, view)
            if settings.config_file is not None:
                save_views(settings.config_file, views)
        except (ValueError, ConfigError, OSError) as exc:
            self.notify(f"View not saved: {exc}", severity="error")
            return
        settings.views = views
        key = self.host.key_label(f"view_{number}", str(number))
        self.notify(f"Saved view {number}: {view.name} ({key} shows it)", timeout=4)
        self.update_info()

    def action_view(self, number: int) -> None:
        """Show saved view `number`: its filter and its sort."""
        views = self.host.settings.views
        if not 1 <= number <= len(views):
            key = self.host.key_label("save_view", "v")
            self.notify(f"No view {number} yet: {key} saves the filter and sort as one", timeout=3)
            return
        view = views[number - 1]
        self.set_filter(view.filter, sort=view.sort)
