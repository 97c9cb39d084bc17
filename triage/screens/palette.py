"""The command palette: a command for every action, and "Jump to lead" over the local store."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from triage import domain
from triage.domain import Status
from triage.screens.messages import Host, OpenLead
from triage.screens.queue import SORT_LABELS

# (title, help, action run on the screen the palette was opened from, or on the app with "app.")
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Accept", "Accept the lead under the cursor, or every marked lead", "accept"),
    ("Reject", "Reject with a reason (opens the reason picker)", "reject"),
    ("Nurture", "Return to nurture with a reason and a re-entry date", "nurture"),
    ("Undo", "Undo the last decision or BANT answer (a bulk action is one step)", "app.undo"),
    ("Reopen", "Take back your decision of the lead shown (any, not only the last)", "reopen"),
    ("Sync now", "Push decisions and pull new leads now", "app.sync"),
    ("Filter", "Focus the filter box of the queue", "filter"),
    ("Sort", "Cycle the sort of the queue", "sort"),
    ("Reverse sort", "The queue's sort the other way round", "reverse_sort"),
    ("Leads of this account", "The open leads of the cursor lead's account", "account"),
    (
        "Save view",
        "Save the queue's filter and sort under a name (1-9 show the views)",
        "save_view",
    ),
    ("Mark all", "Mark every lead that matches the filter", "mark_all"),
    ("Clear marks", "Unmark every lead", "clear_marks"),
    ("Conflicts", "Decisions the server refused, to review", "app.conflicts"),
    ("My day", "Decided today and this week, your pace, what is left", "app.my_day"),
    ("Help", "Every key of this screen", "app.help"),
    ("Quit", "Quit Triage (decisions are saved as you make them)", "app.quit"),
)


class TriageCommands(Provider):
    """Actions of the current screen, then leads whose name, company or email match."""

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    def _available(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        out = []
        for title, help_text, action in ACTIONS:
            if action.startswith("app.") or hasattr(screen, f"action_{action}"):
                out.append((title, help_text, action))
        if hasattr(screen, "action_view"):  # the queue: its saved views, by key
            for n, view in enumerate(self.host.settings.views, 1):
                key = self.host.key_label(f"view_{n}", str(n))
                sort = SORT_LABELS.get(view.sort, view.sort)
                shown = f"filter: {view.filter or 'none'} · sort: {sort} · key {key}"
                out.append((f"View: {view.name}", shown, f"view({n})"))
        return out

    def _run(self, action: str) -> None:
        screen = self.screen
        if action.startswith("app."):
            self.app.call_later(self.app.run_action, action)
        else:
            self.app.call_later(self.app.run_action, action, screen)

    async def discover(self) -> Hits:
        for title, help_text, action in self._available():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._available():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )
        words = query.strip()
        if len(words) < 2:
            return
        flt = replace(domain.parse_filter(words), status=tuple(s.value for s in Status))
        if flt.errors:
            return
        rows = self.host.store.queue_page(flt, "name", 0, 100, now=self.host.now())
        for row in rows:
            # Leads whose name matches every word rank first (Textual's fuzzy score on
            # the name); then those matched by company; then by other fields (campaign,
            # email, title), as the store's filter found them.
            name_score = matcher.match(row.name)
            if name_score > 0:
                score, shown = 0.5 + 0.5 * name_score, matcher.highlight(row.name)
            else:
                company_score = matcher.match(f"{row.name} {row.company or ''}")
                score, shown = 0.1 + 0.3 * company_score, Content(row.name)
            parts: list = ["Jump to lead: ", shown]
            if row.status != Status.OPEN.value:
                parts.append((f"  ({row.status})", "$text-muted"))
            source = " / ".join(p for p in (row.source, row.campaign) if p)
            yield Hit(
                score,
                Content.assemble(*parts),
                partial(self.screen.post_message, OpenLead(row.id)),
                text=f"Jump to lead: {row.name}",
                help=" · ".join(
                    p
                    for p in (row.company, source, row.score is not None and f"score {row.score}")
                    if p
                ),
            )
