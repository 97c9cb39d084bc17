"""What the screens and the app say to each other, and what a screen may ask of the app.

Messages go up: a screen posts `OpenLead`, `DecisionRequested`, `FilterQueue`,
`StoreWritten` or `StatusStale`, and the app (which owns the screens and the store's workflow) handles
them with `@on`. Changes come down: the app posts `StoreChanged` to every screen in
the stack. Screens read what they need to draw (the clock, the policy, the key a binding
has now) through `Host`, a Protocol the app satisfies, so no screen imports the app.
Messages several screens send live here; a message one screen sends is nested in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, cast

from textual.dom import DOMNode
from textual.message import Message

from triage import domain
from triage.config import Settings
from triage.domain import Outcome
from triage.store import Store

ChangeKind = Literal["decision", "undo", "bant", "sync", "outside"]


class Host(Protocol):
    """What a screen reads from the app it runs in."""

    @property
    def store(self) -> Store: ...

    @property
    def policy(self) -> domain.Policy: ...

    @property
    def settings(self) -> Settings: ...

    def now(self) -> datetime: ...

    def key_label(self, binding_id: str, default: str = "") -> str: ...


def host(node: DOMNode) -> Host:
    """The app `node` runs in, as a screen sees it."""
    return cast(Host, node.app)


class StoreChanged(Message, bubble=False):
    """The app to each screen: the store changed (decision | undo | bant | sync | outside:
    another process wrote to it). `lead_id`: the lead to keep or put under the cursor
    (the one an undo restored, where the cursor goes after a bulk decision); `lead_ids`:
    the leads a decision decided; `bulk`: it decided the queue's marks."""

    def __init__(
        self,
        kind: ChangeKind,
        lead_id: str | None = None,
        *,
        lead_ids: Sequence[str] = (),
        bulk: bool = False,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.lead_id = lead_id
        self.lead_ids = tuple(lead_ids)
        self.bulk = bulk

    def copy(self) -> StoreChanged:
        """The same news in a message of its own (one message, one receiver)."""
        return StoreChanged(self.kind, self.lead_id, lead_ids=self.lead_ids, bulk=self.bulk)


class OpenLead(Message):
    """Show this lead in full (the queue's enter, the palette's jump, a conflict's lead)."""

    def __init__(self, lead_id: str) -> None:
        super().__init__()
        self.lead_id = lead_id


class DecisionRequested(Message):
    """Decide these leads (ask for a confirmation or a reason first), or with outcome None
    take the rep's decisions of them back (reopen). `bulk`: they are the queue's marks;
    `follow`: the lead the queue's cursor goes to once they are decided; `reason`: the
    reason the picker starts on (the suggestion's), for the rep to confirm."""

    def __init__(
        self,
        outcome: Outcome | None,
        lead_ids: Sequence[str],
        *,
        bulk: bool = False,
        follow: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__()
        self.outcome = outcome
        self.lead_ids = list(lead_ids)
        self.bulk = bulk
        self.follow = follow
        self.reason = reason


class FilterQueue(Message):
    """Show the queue with this filter (the lead screen's `@`: the lead's account), the
    cursor on `lead_id` when the filter lists it."""

    def __init__(self, query: str, lead_id: str | None = None) -> None:
        super().__init__()
        self.query = query
        self.lead_id = lead_id


class StoreWritten(Message):
    """A screen wrote to the store itself (a BANT answer): every screen shows it again."""

    def __init__(self, kind: ChangeKind, lead_id: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.lead_id = lead_id


class StatusStale(Message):
    """A screen was shown, or changed what the status bar counts: draw the bar again."""
