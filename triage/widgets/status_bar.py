"""The sync status bar: online/offline, last sync, pending, conflicts, open, decided today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.content import Content
from textual.widget import Widget

from triage.store import StoreStatus
from triage.widgets.fmt import ago


@dataclass(frozen=True, slots=True)
class SyncView:
    """What the app knows of sync this session."""

    state: str = "never"  # never | syncing | online | offline | stopped | off
    message: str | None = None  # the last error, for offline / stopped


_STATE = {
    "never": ("○", "$text-muted", "never synced"),
    "syncing": ("◌", "$text-accent", "syncing…"),
    "online": ("●", "$text-success", "online"),
    "offline": ("●", "$text-warning", "offline"),
    "stopped": ("■", "$text-error", "sync stopped"),
    "off": ("○", "$text-muted", "not logged in"),
}


class StatusBar(Widget):
    """One line above the footer; the app calls `show()` after every action and sync."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status: StoreStatus | None = None
        self.sync = SyncView()
        self.now: datetime | None = None

    def show(self, status: StoreStatus, sync: SyncView, now: datetime) -> None:
        self.status, self.sync, self.now = status, sync, now
        self.refresh()

    def render(self) -> Content:
        glyph, style, word = _STATE.get(self.sync.state, _STATE["never"])
        status = self.status
        if status is None or self.now is None:
            return Content.assemble((f"{glyph} ", style), (word, style))
        wide = self.size.width >= 96
        parts: list[tuple[str, str] | Content] = [(f"{glyph} ", style), (word, style)]
        if self.sync.state != "off" and (status.last_sync or self.sync.state != "never"):
            synced = ago(status.last_sync, self.now)
            parts.append((f" · synced {synced}" if wide else f" · {synced}", ""))
        sep = " · "
        pending = f"{status.pending:,} pending"
        parts.append((sep + pending, "$text-warning" if status.pending else "$text-muted"))
        if status.conflicts:
            word = "conflict" if status.conflicts == 1 else "conflicts"
            parts.append((f"{sep}{status.conflicts:,} {word}", "bold $text-error"))
        elif wide:
            parts.append((f"{sep}0 conflicts", "$text-muted"))
        parts.append((f"{sep}{status.open:,} open", ""))
        today = "decided today" if wide else "today"
        parts.append((f"{sep}{status.decided_today:,} {today}", ""))
        return Content.assemble(*parts)
