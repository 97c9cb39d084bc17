"""The preview pane: the lead under the queue's cursor, beside the queue on a wide terminal.

It reads one lead (and its local history) from the store, never the network: about a
millisecond. It draws the sections of the detail screen (widgets/lead_view.py) as
lines of its own (the Line API, like the queue's table): a new lead repaints the pane
and nothing else, where a dozen `height: auto` widgets would lay out the whole screen
again on every move of the cursor (measured here: three times the cost of the move).
The queue asks for the new lead inside the cursor's step (`LeadTable.cursor_moved`), so
the cursor and the pane are painted in one screen update, and the pane's lines are
rendered as one Content (see `_rendered`).
When the cursor runs (`j` held down, fifty `j`s pasted) it draws at most once every
`DRAW_EVERY` seconds and always draws the last lead asked for: the first move shows at
once, the moves in between are skipped, the lead under the cursor when the keys stop
is the one shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.visual import Visual

from triage import domain
from triage.store import Account, HistoryEntry, Store, StoreError
from triage.widgets.bant import bant_detail, bant_head
from triage.widgets.lead_view import (
    activity,
    heading,
    history_text,
    lead_facts,
    with_account,
    with_import,
    with_suggestion,
)

DRAW_EVERY = 0.05  # seconds: at most twenty drawings a second while the cursor runs
BANT_HEAD = 26  # cells: "[1] Authority  ✓ yes", then the question and the evidence


class LeadPreview(ScrollView, can_focus=False):
    """The lead under the queue's cursor, read-only (`enter` opens it full size). It
    takes no focus: the keys stay the queue's. The mouse wheel scrolls it."""

    DEFAULT_CSS = """
    LeadPreview {
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    def __init__(
        self,
        store: Store,
        *,
        policy: Callable[[], domain.Policy],
        clock: Callable[[], datetime],
        bant_title: Callable[[], str] = lambda: "BANT",
        ahead: Callable[[], str | None] = lambda: None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.policy = policy
        self.clock = clock
        self.bant_title = bant_title
        self.ahead = ahead  # the lead below the cursor: rendered ahead, after a draw
        self.wanted: str | None = None  # the lead to show (the cursor's)
        self.lead: domain.Lead | None = None  # the lead shown
        self.draws = 0  # how many times it drew (tests and the benchmark read it)
        self._blocks: list[Block] = []
        self._strips: tuple[int, list[Strip]] | None = None  # (width, lines)
        self._stale = True  # what is drawn is not `wanted` as the store has it now
        self._drawn_at = -DRAW_EVERY
        self._timer: Timer | None = None
        self._ahead: tuple[tuple, list[Strip]] | None = None  # the lead below, rendered

    @property
    def lead_id(self) -> str | None:
        return None if self.lead is None else self.lead.id

    @property
    def current(self) -> bool:
        """Does the pane show the wanted lead, as the store has it?"""
        return not self._stale and self._timer is None

    def text(self) -> str:
        """What the pane says, as plain text (tests)."""
        return "\n".join(strip.text.rstrip() for strip in self._rendered(max(20, self._width)))

    # ------------------------------------------------------------ following the cursor

    def follow(self, lead_id: str | None, *, changed: bool = False) -> None:
        """Show `lead_id` (None: there is no lead under the cursor). `changed`: the store
        changed, so draw it again even if it is the lead shown."""
        if lead_id != self.wanted or changed:
            self.wanted = lead_id
            self._stale = True
        if not self._stale or self._timer is not None:
            return  # shown already, or the coming draw will show it
        wait = self._drawn_at + DRAW_EVERY - time.monotonic()
        if wait <= 0:
            self._draw()
        else:
            self._timer = self.set_timer(wait, self._draw, name="preview")

    def _draw(self) -> None:
        self._timer = None
        self._stale = False
        self._drawn_at = time.monotonic()
        self.draws += 1
        lead_id, moved = self.wanted, self.wanted != self.lead_id
        try:
            lead = self.store.lead(lead_id) if lead_id is not None else None
            history = self.store.history(lead_id) if lead is not None else []
            account = self.store.account_of(lead_id) if lead is not None else None
        except StoreError as exc:
            lead, history = None, []
            self._show([Block(Content.styled(f"Could not read the lead: {exc}", "$text-error"))])
        else:
            self._show(self._blocks_of(lead, history, account))
        self.lead = lead
        if moved:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.call_after_refresh(self._render_ahead)

    def _blocks_of(
        self, lead: domain.Lead | None, history: list[HistoryEntry], account: Account | None
    ) -> list[Block]:
        if lead is None:
            return [Block(Content.styled("No lead under the cursor.", "italic $text-muted"))]
        policy = self.policy()
        facts = with_account(lead_facts(lead, self.clock(), policy.sla_hours), account)
        facts = with_suggestion(with_import(facts, lead, policy), lead, policy)
        return [
            Block(heading(lead)),
            Block(facts, space=1),
            Block(title=self.bant_title(), space=1),
            *(
                Block(bant_head(i, c, lead.bant_answer(c.key).value), aside=bant_detail(c, lead))
                for i, c in enumerate(policy.bant, 1)
            ),
            Block(title="Activity", space=1),
            Block(activity(lead)),
            Block(title="Decision history", space=1),
            Block(history_text(history, lead, policy)),
        ]

    # ------------------------------------------------------------ lines

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width

    def _show(self, blocks: list[Block]) -> None:
        before = self._strips
        self._blocks = blocks
        self._strips = None
        self._fit()
        self._repaint(before)

    def _repaint(self, before: tuple[int, list[Strip]] | None) -> None:
        """Repaint the lines that differ from those drawn `before` (Textual renders each
        repainted line again; section titles, blank lines and BANT questions are often
        the same from one lead to the next)."""
        width = self._width
        if before is None or before[0] != width or width <= 0:
            self.refresh()
            return
        old, new = before[1], self._rendered(width)
        top, across = round(self.scroll_y), max(self.virtual_size.width, self.size.width)
        changed = [
            Region(0, y - top, across, 1)
            for y in range(max(len(old), len(new)))
            if y >= len(old) or y >= len(new) or old[y] != new[y]
        ]
        if changed:
            self.refresh(*changed)

    def _rendered(self, width: int) -> list[Strip]:
        """The pane's lines at `width`, rendered once per lead and width: the blocks
        joined into one Content, wrapped and rendered in one pass through Textual (which
        resolves the theme's variables); a render per block cost about three times as
        much, most of it Textual's work for each render."""
        if self._strips is None or self._strips[0] != width:
            self._strips = (width, self._render(self._blocks, width))
        return self._strips[1]

    def _render(self, blocks: list[Block], width: int) -> list[Strip]:
        """`blocks` as lines: from `_ahead` when the lead below was rendered ahead and
        reads the same now (text and styles alike), else rendered here."""
        key, content = _joined(blocks, width)
        if self._ahead is not None and self._ahead[0] == key:
            return self._ahead[1]
        return Visual.to_strips(self, content, width, None, self.visual_style, pad=True)

    def _render_ahead(self) -> None:
        """Render the lead below the cursor while the rep reads this one (after the
        frame): a step down then reads it from the store and compares, and does not
        render it again (rendering is most of a step's cost)."""
        if not self.is_attached or not self.display or self._timer is not None:
            return  # gone, hidden, or the cursor is running: a draw is coming
        lead_id = self.ahead()
        width = self._width
        if lead_id is None or width <= 0:
            return
        try:
            lead = self.store.lead(lead_id)
            history = self.store.history(lead_id) if lead is not None else []
            account = self.store.account_of(lead_id) if lead is not None else None
        except StoreError:
            return
        key, content = _joined(self._blocks_of(lead, history, account), width)
        strips = Visual.to_strips(self, content, width, None, self.visual_style, pad=True)
        self._ahead = (key, strips)

    def _fit(self) -> None:
        """The scrollable height: the lines at this width, at least the pane's height (a
        virtual size that changes costs a layout of the screen: most leads fit)."""
        region = self.scrollable_content_region
        if region.width <= 0:
            return
        size = Size(region.width, max(region.height, len(self._rendered(region.width))))
        if size != self.virtual_size:
            self.virtual_size = size

    def on_resize(self) -> None:
        self._fit()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = self._ahead = None  # another theme: other colours
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self._width
        lines = self._rendered(width)
        index = round(self.scroll_y) + y
        if 0 <= index < len(lines):
            return lines[index]
        return Strip.blank(width, self.visual_style.rich_style)

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()


class Block:
    """A part of the pane: text wrapped to the pane's width, or a section title across it,
    or a BANT row (its head on the left, `aside` wrapped beside it)."""

    def __init__(
        self,
        content: Content | None = None,
        *,
        title: str | None = None,
        aside: Content | None = None,
        space: int = 0,
    ) -> None:
        self.content = content
        self.title = title
        self.aside = aside
        self.space = space  # blank lines before it

    def lines(self, width: int) -> list[Content]:
        """Its lines at `width`: a BANT row's wrapped here (its two columns), the others
        left whole for the one render to wrap."""
        out = [Content("")] * self.space
        if self.title is not None:
            text = f" {self.title}"[:width].ljust(width)
            out.append(Content.styled(text, "bold $text-accent on $boost"))
        elif self.aside is not None and self.content is not None:
            out.extend(_beside(self.content, self.aside, width))
        elif self.content is not None:
            out.append(self.content)
        return out


def _joined(blocks: list[Block], width: int) -> tuple[tuple, Content]:
    """The blocks' lines at `width` as one Content, and what identifies its render (the
    width, the text and its styles)."""
    lines: list[Content] = []
    for block in blocks:
        lines.extend(block.lines(width))
    content = Content("\n").join(lines)
    return (width, content.plain, tuple(content.spans)), content


def _beside(head: Content, aside: Content, width: int) -> list[Content]:
    """`head` in BANT_HEAD cells, `aside` wrapped to its right; stacked when narrow."""
    room = width - BANT_HEAD - 1
    if room < 20:
        return [*head.wrap(width), *(Content("    ") + aside).wrap(width)]
    heads = head.wrap(BANT_HEAD + 1)
    asides = aside.wrap(room)
    out = []
    for i in range(max(len(heads), len(asides))):
        left = heads[i] if i < len(heads) else Content("")
        right = asides[i] if i < len(asides) else Content("")
        out.append(left.pad_right(BANT_HEAD + 1 - left.cell_length) + right)
    return out
