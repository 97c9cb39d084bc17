"""The BANT checklist of one lead: criterion, the question, marketing's evidence, the rep's answer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid
from textual.content import Content
from textual.widgets import Static

from triage import domain
from triage.widgets.fmt import bant_glyph

ANSWER_STYLE = {"yes": "$text-success", "no": "$text-error", "unknown": "$text-muted"}
ANSWER_WORD = {"yes": "yes", "no": "no", "unknown": "not yet"}


def answer_content(answer: str) -> Content:
    answer = answer if answer in ANSWER_STYLE else "unknown"
    return Content.from_markup(
        f"[b {ANSWER_STYLE[answer]}]$glyph $word[/]",
        glyph=bant_glyph(answer),
        word=ANSWER_WORD[answer],
    )


class BantChecklist(Grid):
    """Four rows (one per policy criterion); `1`-`4` on the detail screen cycle the answers."""

    DEFAULT_CSS = """
    BantChecklist {
        grid-size: 2;
        grid-columns: 26 1fr;
        grid-rows: auto;
        grid-gutter: 0 1;
        height: auto;
    }
    BantChecklist > .bant--criterion { height: auto; }
    BantChecklist > .bant--detail { height: auto; }
    """

    def __init__(self, policy: domain.Policy, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.policy = policy
        self.lead: domain.Lead | None = None

    def compose(self) -> ComposeResult:
        for i, criterion in enumerate(self.policy.bant, 1):
            head, detail = self._contents(i, criterion)
            yield Static(head, id=f"bant-{criterion.key}", classes="bant--criterion")
            yield Static(detail, id=f"bant-{criterion.key}-detail", classes="bant--detail")

    def show(self, lead: domain.Lead) -> None:
        self.lead = lead
        if not self.is_mounted:
            return
        for i, criterion in enumerate(self.policy.bant, 1):
            head, detail = self._contents(i, criterion)
            self.query_one(f"#bant-{criterion.key}", Static).update(head)
            self.query_one(f"#bant-{criterion.key}-detail", Static).update(detail)

    def answer(self, key: str) -> str:
        return "unknown" if self.lead is None else self.lead.bant_answer(key).value

    def _contents(self, number: int, criterion: domain.Criterion) -> tuple[Content, Content]:
        return (
            bant_head(number, criterion, self.answer(criterion.key)),
            bant_detail(criterion, self.lead),
        )


def bant_head(number: int, criterion: domain.Criterion, answer: str) -> Content:
    """ "[1] Budget     ✓ yes": the key, the criterion, the rep's answer."""
    return Content.assemble(
        (f"[{number}] ", "$text-accent"),
        (f"{criterion.label:<10} ", "bold"),
        answer_content(answer),
    )


def bant_detail(criterion: domain.Criterion, lead: domain.Lead | None) -> Content:
    """The question the rep answers, and marketing's evidence."""
    evidence = (lead.evidence.get(criterion.key) if lead else None) or "none given"
    return Content.assemble(
        (criterion.question, ""),
        ("\nmarketing: ", "$text-muted"),
        (evidence, "italic $text-muted" if evidence == "none given" else ""),
    )
