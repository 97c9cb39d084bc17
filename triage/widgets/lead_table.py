"""The queue as a virtual list: a Line API ScrollView over the store, never a DataTable.

The table never holds the queue. Its virtual height is `store.queue_count(filter)`
(plus one sticky header line); `render_line(y)` asks a small page cache for the
row under line y, and the cache asks `store.queue_page(filter, sort, offset, 100)`
for a page it does not have. At most `MAX_PAGES` pages are kept (least recently
used first out), so memory and start-up cost do not grow with the queue, and a
100,000-lead store paints as fast as a 100-lead one.

Any change (decision, undo, sync, filter, sort, BANT answer) calls `reload()`,
which drops the cache, counts again and keeps the cursor either on the same row
index (the next lead slides under it after a decision) or on the same lead id
(after a sync).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.signal import Signal
from textual.strip import Strip

from triage import domain
from triage.config import QUEUE_COLUMNS
from triage.store import QueueRow, Store
from triage.widgets.fmt import age_vs_sla, bant_glyph, suggestion_cell

NO_SUGGESTIONS = domain.Suggestions(enabled=False)
PAGE_SIZE = 100
MAX_PAGES = 6


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    width: int
    align: str = "left"


@dataclass
class FetchStats:
    """What the table asked the store for (tests and the benchmark read it)."""

    pages: int = 0
    rows: int = 0
    counts: int = 0

    def reset(self) -> None:
        self.pages = self.rows = self.counts = 0


COLUMN_KEYS = QUEUE_COLUMNS
"""The queue's columns a rep may choose and order (config.toml `[queue] columns`); the mark
column is always first."""
_FLEX_WEIGHT = {"account": 5, "name": 5, "title": 4, "company": 5, "source": 5}


SUGGESTION_MIN_WIDTH = 76  # cells: narrower, the suggestion column gives way


def layout_columns(
    width: int,
    chosen: tuple[str, ...] = COLUMN_KEYS,
    *,
    grouped: bool = False,
    suggested: bool = False,
) -> list[Column]:
    """Columns for a table `width` cells wide, in the `chosen` order: title, then source,
    give way first when narrow (under 104 cells, then under 66). `grouped` (the queue by
    account): the account first, and under 104 cells it stands in for the company. The
    suggestion column shows only when `suggested` (the policy shows suggestions and a lead
    has one) and there is room for it (SUGGESTION_MIN_WIDTH)."""
    keys = [k for k in chosen if k in COLUMN_KEYS]
    if not suggested or width < SUGGESTION_MIN_WIDTH:
        keys = [k for k in keys if k != "suggestion"]
    if grouped:
        keys = ["account"] + [k for k in keys if k != "company" or width >= 104]
    if width < 104 and len(keys) > 2:
        keys = [k for k in keys if k != "title"]
    if width < 66 and len(keys) > 2:
        keys = [k for k in keys if k != "source"]
    fixed = {"score": Column("score", "SCR", 3, "right"), "age": Column("age", "AGE", 6, "right"),
             "bant": Column("bant", "B A N T", 7) if width >= 100 else Column("bant", "BANT", 4),
             "suggestion": Column("suggestion", "SUGGEST", 8)}  # fmt: skip
    flex = [k for k in keys if k in _FLEX_WEIGHT]
    used = 1 + sum(fixed[k].width for k in keys if k in fixed) + len(keys) + 2  # gaps, sides
    free = max(len(flex) * 4, width - used)
    weight = dict(_FLEX_WEIGHT, source=5 if width >= 104 else 3)
    if width < 66:
        weight = dict.fromkeys(weight, 1)
    total = sum(weight[k] for k in flex) or 1
    widths = {k: free * weight[k] // total for k in flex}
    if flex:
        widths[flex[0]] += free - sum(widths.values())
    headers = {"account": "ACCOUNT", "name": "NAME", "title": "TITLE", "company": "COMPANY",
               "source": "SOURCE / CAMPAIGN" if width >= 104 else "SOURCE"}  # fmt: skip
    out = [Column("mark", "", 1)]
    for k in keys:
        out.append(fixed[k] if k in fixed else Column(k, headers[k], widths[k]))
    return out


class LeadTable(ScrollView, can_focus=True):
    """The open leads of the queue, one line each, fetched a page at a time."""

    HELP_TITLE = "Queue: moving and marking"

    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", id="cursor_down", show=False,
                tooltip="Move the cursor to the next lead"),
        Binding("up,k", "cursor_up", "Up", id="cursor_up", show=False,
                tooltip="Move the cursor to the previous lead"),
        Binding("pagedown", "page_down", "Page down", id="page_down", show=False,
                tooltip="Move the cursor one screen down"),
        Binding("pageup", "page_up", "Page up", id="page_up", show=False,
                tooltip="Move the cursor one screen up"),
        Binding("home,g", "first", "First", id="first", show=False,
                tooltip="Jump to the first lead of the queue"),
        Binding("end,G", "last", "Last", id="last", show=False,
                tooltip="Jump to the last lead of the queue"),
        Binding("space", "toggle_mark", "Mark", id="mark", show=False,
                tooltip="Mark or unmark the lead under the cursor, then move down"),
        Binding("shift+down", "extend_down", "Mark down", id="extend_down", show=False,
                tooltip="Mark the lead under the cursor and move down (extend the marks)"),
        Binding("shift+up", "extend_up", "Mark up", id="extend_up", show=False,
                tooltip="Mark the lead under the cursor and move up (extend the marks)"),
    ]  # fmt: skip

    COMPONENT_CLASSES = {
        "lead-table--header",
        "lead-table--cursor",
        "lead-table--marked",
        "lead-table--mark",
        "lead-table--dim",
        "lead-table--bant-yes",
        "lead-table--bant-no",
        "lead-table--bant-unknown",
        "lead-table--age-fresh",
        "lead-table--age-due",
        "lead-table--age-late",
        "lead-table--age-very-late",
        "lead-table--empty",
        "lead-table--account",
        "lead-table--suggestion",
    }

    DEFAULT_CSS = """
    LeadTable {
        overflow-x: hidden;
        overflow-y: scroll;
    }
    """

    class Changed(Message):
        """The count, the marks or the cursor changed (the screen updates its info line)."""

        def __init__(self, table: LeadTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> LeadTable:
            return self.table

    class Opened(Message):
        """The rep opened the lead under the cursor (double click)."""

        def __init__(self, table: LeadTable, lead_id: str) -> None:
            super().__init__()
            self.table = table
            self.lead_id = lead_id

        @property
        def control(self) -> LeadTable:
            return self.table

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime],
        sla_hours: float,
        columns: tuple[str, ...] = COLUMN_KEYS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.store = store
        self.clock = clock
        self.sla_hours = sla_hours
        self.chosen = columns  # the columns the rep chose, in their order
        # What the policy shows of the server's suggestions (the screen sets it with the
        # policy); `suggested`: some open lead shows one (counted again on reload).
        self.suggestions = NO_SUGGESTIONS
        self.suggested = False
        self.filter = domain.Filter()
        self.sort = "sla"
        self.count = 0
        self.cursor = 0
        self.marks: set[str] = set()
        self.stats = FetchStats()
        # published inside a cursor step (the new row), before `Changed` reaches the screen
        self.cursor_moved: Signal[int] = Signal(self, "cursor_moved")
        self._pages: OrderedDict[int, list[QueueRow]] = OrderedDict()
        self.groups = AccountGroups(self)  # grouped by account: the accounts' labels
        self._columns: tuple[tuple[int, bool, bool], list[Column]] | None = None
        self._loaded = False
        self._empty_text: str | None = None  # what the app says an empty queue means now

    # ------------------------------------------------------------ data

    def on_mount(self) -> None:
        self.reload()

    def set_query(self, flt: domain.Filter, sort: str | None = None) -> None:
        """A new filter or sort: count again, cursor to the top."""
        self.filter = flt
        if sort is not None:
            self.sort = sort
        self.cursor = 0
        self.reload(keep="index")
        self.scroll_to(y=0, animate=False, immediate=True)

    def reload(self, keep: str = "index", lead_id: str | None = None) -> None:
        """Drop the page cache and count again.

        keep="index": the cursor stays on the same row number (the next lead after a
        decision). keep="id": it follows `lead_id` (default: the lead now under it),
        wherever that lead is now; if it is gone, the row number is kept.
        """
        target = lead_id if lead_id is not None else self.cursor_id if keep == "id" else None
        old_index = self.cursor
        self._pages.clear()
        self.groups.clear()
        self.count = self.store.queue_count(self.filter, now=self.clock())
        self.stats.counts += 1
        shows = self.suggestions
        self.suggested = shows.enabled and self.store.any_suggestion(shows.threshold)
        self._loaded = True
        self.virtual_size = Size(self.size.width, self.count + 1)
        index = old_index
        if target is not None:
            found = self.locate(target, near=old_index)
            if found is not None:
                index = found
        self.cursor = max(0, min(index, self.count - 1))
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Changed(self))

    def locate(self, lead_id: str, near: int = 0) -> int | None:
        """The row index of `lead_id` in the queue: the pages around `near` first, then
        the ids of the whole filtered queue (one indexed query)."""
        page = near // PAGE_SIZE
        for p in (page, page - 1, page + 1):
            if p < 0 or p * PAGE_SIZE >= self.count:
                continue
            for i, row in enumerate(self._page(p)):
                if row.id == lead_id:
                    return p * PAGE_SIZE + i
        try:
            return self.store.queue_ids(self.filter, self.sort, now=self.clock()).index(lead_id)
        except ValueError:
            return None

    def _page(self, page: int) -> list[QueueRow]:
        rows = self._pages.get(page)
        if rows is not None:
            self._pages.move_to_end(page)
            return rows
        rows = self.store.queue_page(
            self.filter, self.sort, page * PAGE_SIZE, PAGE_SIZE, now=self.clock()
        )
        self.stats.pages += 1
        self.stats.rows += len(rows)
        if self.grouped:
            self.groups.count(rows)
        self._pages[page] = rows
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        return rows

    def row_at(self, index: int) -> QueueRow | None:
        if not 0 <= index < self.count:
            return None
        rows = self._page(index // PAGE_SIZE)
        offset = index % PAGE_SIZE
        return rows[offset] if offset < len(rows) else None

    @property
    def grouped(self) -> bool:
        """Is the queue grouped by account (the "account" sort, either way round)?"""
        return self.sort.removeprefix("-") == "account"

    @property
    def cursor_row(self) -> QueueRow | None:
        return self.row_at(self.cursor)

    @property
    def cursor_id(self) -> str | None:
        row = self.cursor_row
        return None if row is None else row.id

    def first_not_in(self, ids: set[str]) -> str | None:
        """The first lead at or after the cursor that is not in `ids` (where the cursor
        goes after a bulk decision on `ids`): the cached pages first, else one query."""
        end = min(self.count, self.cursor + 2 * PAGE_SIZE)
        for index in range(self.cursor, end):
            row = self.row_at(index)
            if row is not None and row.id not in ids:
                return row.id
        if end >= self.count:
            return None
        queue = self.store.queue_ids(self.filter, self.sort, now=self.clock())
        return next((i for i in queue[end:] if i not in ids), None)

    @property
    def cached_pages(self) -> int:
        return len(self._pages)

    # ------------------------------------------------------------ cursor and marks

    @property
    def body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_to(self, index: int) -> None:
        if self.count == 0:
            self.cursor = 0
            return
        index = max(0, min(index, self.count - 1))
        if index != self.cursor:
            old = self.cursor
            self.cursor = index
            self._refresh_row(old)
            self._refresh_row(index)
            self._scroll_cursor_into_view()
            self.cursor_moved.publish(index)
            self.post_message(self.Changed(self))

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        height = self.body_height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + 1)  # virtual line: the header is line 0

    def set_marks(self, ids: set[str]) -> None:
        self.marks = ids
        self.refresh()
        self.post_message(self.Changed(self))

    def clear_marks(self) -> bool:
        if not self.marks:
            return False
        self.set_marks(set())
        return True

    def _mark(self, value: bool | None = None) -> None:
        lead_id = self.cursor_id
        if lead_id is None:
            return
        on = (lead_id not in self.marks) if value is None else value
        if on:
            self.marks.add(lead_id)
        else:
            self.marks.discard(lead_id)
        self._refresh_row(self.cursor)
        self.post_message(self.Changed(self))

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_y + self.body_height, animate=False, immediate=True)
        self.move_to(self.cursor + self.body_height)

    def action_page_up(self) -> None:
        self.scroll_to(y=self.scroll_y - self.body_height, animate=False, immediate=True)
        self.move_to(self.cursor - self.body_height)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.count - 1)

    def action_toggle_mark(self) -> None:
        self._mark()
        self.move_to(self.cursor + 1)

    def action_extend_down(self) -> None:
        self._mark(True)
        self.move_to(self.cursor + 1)
        self._mark(True)

    def action_extend_up(self) -> None:
        self._mark(True)
        self.move_to(self.cursor - 1)
        self._mark(True)

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        index = round(self.scroll_y) + event.y - 1
        if index < self.count:
            self.move_to(index)
            if event.chain >= 2 and self.cursor_id:
                self.post_message(self.Opened(self, self.cursor_id))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.count + 1)
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # ------------------------------------------------------------ rendering

    def empty_text(self) -> str:
        if not self.filter.empty:
            return "No lead matches this filter. Escape clears it."
        if self._empty_text:
            return self._empty_text
        return "No open leads: your queue is clear. Press s to look for new ones."

    def set_empty_text(self, text: str | None) -> None:
        """What an empty, unfiltered queue means now (fetching, not signed in, clear):
        the app says it, after every change of sync state."""
        if text != self._empty_text:
            self._empty_text = text
            if self.count == 0:
                self.refresh()

    def columns(self) -> list[Column]:
        width = self.scrollable_content_region.width
        key = (width, self.grouped, self.suggested)
        if self._columns is None or self._columns[0] != key:
            self._columns = (key, layout_columns(width, self.chosen, grouped=self.grouped,
                                                 suggested=self.suggested))  # fmt: skip
        return self._columns[1]

    def _style(self, name: str) -> Style:
        """A component's own rules (foreground, text style) to lay over a row's style."""
        return self.get_component_rich_style(name, partial=True)

    def _row_style(self, name: str) -> Style:
        """A component's full style, its translucent background blended over the table's."""
        return self.get_component_rich_style(name, partial=False)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return header_strip(self.columns(), self._row_style("lead-table--header"), width)
        index = round(self.scroll_y) + y - 1
        if index >= self.count:
            lines = self.empty_text().split("\n") if self.count == 0 and self._loaded else []
            if 0 <= y - 2 < len(lines):
                text = set_cell_size("  " + lines[y - 2], width)
                return Strip([Segment(text, base + self._style("lead-table--empty"))], width)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            return Strip.blank(width, base)
        return self._row_strip(row, index, width)

    def _row_strip(self, row: QueueRow, index: int, width: int) -> Strip:
        marked = row.id in self.marks
        base = self.rich_style
        if index == self.cursor:
            base = self._row_style("lead-table--cursor")
        elif marked:
            base = self._row_style("lead-table--marked")
        cells = RowCells(base, self._style, self.clock(), self.sla_hours, self.suggestions)
        segments = [Segment(" ", base)]
        for i, col in enumerate(self.columns()):
            if i:
                segments.append(Segment(" ", base))
            if col.key == "account":
                segments.extend(cells.account(self.groups.label(index), col.width))
            else:
                segments.extend(cells.cell(row, col, marked))
        return Strip(segments).adjust_cell_length(width, base)


class AccountGroups:
    """The grouped queue's account labels: each account's leads that the filter matches,
    counted a page's accounts at a time (one indexed query), and which rows head their
    account."""

    def __init__(self, table: LeadTable) -> None:
        self.table = table
        self.counts: dict[str | None, int] = {}

    def clear(self) -> None:
        self.counts.clear()

    def count(self, rows: list[QueueRow]) -> None:
        missing = [r.account for r in rows if r.account not in self.counts]
        if missing:
            table = self.table
            self.counts.update(table.store.account_counts(table.filter, missing, now=table.clock()))

    def label(self, index: int) -> tuple[str, str] | None:
        """The label of row `index` when it heads its account's rows (the first of them,
        or the top line of the table): ("cobalt.example", " · 5"); else None."""
        table = self.table
        row = table.row_at(index)
        if row is None:
            return None
        if index > round(table.scroll_y):
            above = table.row_at(index - 1)
            if above is not None and above.account == row.account:
                return None
        count = self.counts.get(row.account)
        return row.account or "no account", "" if count is None else f" · {count:,}"


class RowCells:
    """The cells of a queue row, in the styles of the table's component classes."""

    def __init__(
        self,
        base: Style,
        style: Callable[[str], Style],
        now: datetime,
        sla_hours: float,
        suggestions: domain.Suggestions = NO_SUGGESTIONS,
    ) -> None:
        self.base = base  # the row's: plain, under the cursor, or marked
        self.dim = base + style("lead-table--dim")
        self.style = style  # a component's own rules, to lay over the row's style
        self.now = now
        self.sla_hours = sla_hours
        self.suggestions = suggestions

    def cell(self, row: QueueRow, col: Column, marked: bool) -> list[Segment]:
        base, dim, key = self.base, self.dim, col.key
        if key == "mark":
            if marked:
                return [Segment("●", base + self.style("lead-table--mark"))]
            return [Segment("↑", dim) if row.pending else Segment(" ", base)]
        if key == "score":
            return [Segment(_fit(_score(row.score), col.width, "right"), base)]
        if key in ("name", "company"):
            return [Segment(_fit(getattr(row, key) or "", col.width), base)]
        if key == "title":
            return [Segment(_fit(row.title or "", col.width), dim)]
        if key == "source":
            return self.source(row, col.width)
        if key == "bant":
            return self.bant(row, spaced=col.width > 4)
        if key == "age":
            text, level = age_vs_sla(row.sla_at, self.now, self.sla_hours)
            style = base + self.style(f"lead-table--age-{level}")
            return [Segment(_fit(text, col.width, "right"), style)]
        if key == "suggestion":
            text = _fit(suggestion_cell(row.suggestion, self.suggestions), col.width)
            return [Segment(text, base + self.style("lead-table--suggestion"))]
        return []

    def account(self, label: tuple[str, str] | None, width: int) -> list[Segment]:
        """The account column: its name and count on the first row of an account (the name
        cut first), a rule below it."""
        if label is None:
            return [Segment(_fit("│", width), self.dim)]
        name, count = label
        if cell_len(count) > width // 2:
            count = ""
        style = self.base + self.style("lead-table--account")
        return [Segment(_fit(name, width - cell_len(count)), style), Segment(count, self.dim)]

    def bant(self, row: QueueRow, *, spaced: bool) -> list[Segment]:
        out: list[Segment] = []
        for n, answer in enumerate(row.bant):
            answer = answer if answer in ("yes", "no") else "unknown"
            if spaced and n:
                out.append(Segment(" ", self.base))
            out.append(
                Segment(bant_glyph(answer), self.base + self.style(f"lead-table--bant-{answer}"))
            )
        return out

    def source(self, row: QueueRow, width: int) -> list[Segment]:
        base, dim = self.base, self.dim
        source = row.source or ""
        if width < 18 or not row.campaign:
            return [Segment(_fit(source or row.campaign or "", width), base)]
        source = set_cell_size(source, min(cell_len(source), max(4, width // 2)))
        rest = width - cell_len(source) - 1
        return [Segment(source, base), Segment("/", dim), Segment(_fit(row.campaign, rest), dim)]


def _fit(text: str, width: int, align: str = "left") -> str:
    """`text` in exactly `width` cells: cut with an ellipsis, padded on the side."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def _score(score: int | None) -> str:
    return "" if score is None else str(score)  # an unscored lead: no number, never 0


def header_strip(columns: list[Column], style: Style, width: int) -> Strip:
    """The table's header row: each column's name, fitted as its cells are."""
    segments = [Segment(" ", style)]
    for i, col in enumerate(columns):
        if i:
            segments.append(Segment(" ", style))
        text = "AGE" if col.key == "age" else col.header
        segments.append(Segment(_fit(text, col.width, col.align), style))
    return Strip(segments).adjust_cell_length(width, style)
