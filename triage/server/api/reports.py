"""JSON reports for marketing under /v1/reports/...: every number of the workspace's pages
comes from one of these (the pages call the same functions of triage.server.reports).

Each takes a period as a preset (`7d`, `30d`, `90d`, `quarter`) or `start` and `end` dates
(both included, in the organisation's time zone); without either, the last 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from triage.server import reports
from triage.server.api.deps import BackendDep, MarketingDep, run_report
from triage.server.service import ServiceError

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Preset = Annotated[
    Literal["7d", "30d", "90d", "quarter"] | None,
    Query(description="7d, 30d, 90d (the days up to today) or quarter (this calendar quarter)"),
]
Day = Annotated[str | None, Query(description="a date, YYYY-MM-DD (organisation's time zone)")]
Dimension = Literal["campaign", "source", "industry", "company_size", "country", "title"]
Cross = Annotated[
    str | None,
    Query(
        max_length=80,
        description="a dimension (as `by`), or `attr:KEY`: one of the leads' attributes "
        "(/v1/reports/attributes lists the keys)",
    ),
]
Filter = Annotated[str | None, Query(description="only leads with this value ('' for none)")]


@dataclass
class PeriodQuery:
    """The query parameters naming a report's period."""

    preset: Preset = None
    start: Day = None
    end: Day = None

    def of(self, ctx: reports.Context) -> reports.Period:
        return ctx.period(self.preset, self.start, self.end)


PeriodDep = Annotated[PeriodQuery, Depends()]


@router.get("/overview", summary="The period's headline figures")
def overview(_who: MarketingDep, backend: BackendDep, period: PeriodDep) -> dict[str, Any]:
    """MQLs received, decided, accepted, rejected, nurtured, acceptance rate (accepted /
    decided), median hours from assignment to the first decision, SLA compliance, open and
    open past SLA, rejection and nurture reasons apart; with the definitions."""
    return run_report(backend, lambda c, x: reports.overview(c, x, period.of(x)))


@router.get("/trend", summary="Week by week: volume and acceptance rate")
def trend(_who: MarketingDep, backend: BackendDep, period: PeriodDep) -> dict[str, Any]:
    return run_report(backend, lambda c, x: reports.trend(c, x, period.of(x)))


@router.get("/segments", summary="Segments sales keeps rejecting")
def segments(
    _who: MarketingDep,
    backend: BackendDep,
    period: PeriodDep,
    min_leads: Annotated[
        int, Query(ge=1, description="leads decided in the period, at least")
    ] = 20,
    min_rejected: Annotated[
        float, Query(ge=0, le=100, description="rejected, as a percentage of decided, at least")
    ] = 60,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    by: Annotated[
        str | None,
        Query(
            description="the second dimension: title, company_size, industry, country or "
            "attr:KEY (a lead attribute); all four of the first when not given"
        ),
    ] = None,
) -> dict[str, Any]:
    """A campaign or source crossed with a title, company size, industry, country or an
    attribute (`by=attr:KEY`), with
    its rejection rate, top reasons by label and a few of the reps' notes, ranked by leads
    rejected (wasted): what to stop sending."""
    from triage.server import segments as seg

    t = seg.Thresholds.parse(min_leads, min_rejected, limit)
    return run_report(backend, lambda c, x: seg.segments(c, x, period.of(x), t, by))


@router.get("/agreement", summary="How often reps agreed with the suggestion they were shown")
def agreement(_who: MarketingDep, backend: BackendDep, period: PeriodDep) -> dict[str, Any]:
    """Decisions in the period whose rep was shown a suggestion, and how many followed it
    (the same outcome, and a rejection's or nurture's same reason; `agreed_outcome`: the
    outcome alone), overall, by rep and by campaign; with the latest model's held-out
    figures (accuracy, ROC AUC, macro-F1), when it was trained and on how many decisions."""
    from triage.server.agreement import agreement as report

    return run_report(backend, lambda c, x: report(c, x, period.of(x)))


@router.get("/breakdown", summary="A row per campaign, source or other dimension")
def breakdown(
    _who: MarketingDep,
    backend: BackendDep,
    period: PeriodDep,
    by: Dimension = "campaign",
    cross: Cross = None,
    campaign: Filter = None,
    source: Filter = None,
) -> dict[str, Any]:
    """Outcomes, acceptance rate, time to decision, SLA compliance and reasons by label per
    `by` value, crossed with a second dimension or an attribute (`cross`) when given."""
    return run_report(
        backend,
        lambda c, x: reports.breakdown(
            c, x, period.of(x), by, cross, campaign=campaign, source=source
        ),
    )


@router.get("/attributes", summary="The attribute keys a breakdown may be crossed by")
def attributes(_who: MarketingDep, backend: BackendDep) -> dict[str, Any]:
    """The keys of the newest leads' attributes (`cross=attr:KEY`)."""
    return run_report(backend, lambda c, x: {"keys": reports.attribute_keys(c)})


@router.get("/reasons", summary="Rejection and nurture reasons, apart, over time and by group")
def reasons(
    _who: MarketingDep,
    backend: BackendDep,
    period: PeriodDep,
    by: Dimension = "campaign",
    campaign: Filter = None,
    source: Filter = None,
) -> dict[str, Any]:
    return run_report(
        backend,
        lambda c, x: reports.reasons(c, x, period.of(x), by, campaign=campaign, source=source),
    )


@router.get("/notes", summary="The reps' notes on the period's decisions, whole")
def notes(
    _who: MarketingDep,
    backend: BackendDep,
    period: PeriodDep,
    outcome: Literal["accept", "reject", "nurture"] | None = None,
    reason: str | None = None,
    q: Annotated[str | None, Query(description="words the note contains")] = None,
    rep: str | None = None,
    campaign: Filter = None,
    source: Filter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return run_report(
        backend,
        lambda c, x: reports.notes(
            c,
            x,
            period.of(x),
            outcome=outcome,
            reason=reason,
            text=q,
            rep=rep,
            limit=limit,
            offset=offset,
            campaign=campaign,
            source=source,
        ),  # fmt: skip
    )


@router.get("/reps", summary="A row per rep")
def reps(_who: MarketingDep, backend: BackendDep, period: PeriodDep) -> dict[str, Any]:
    """Assigned in the period, decided, median time to decision, SLA compliance, open and
    open past SLA now."""
    return run_report(backend, lambda c, x: reports.reps(c, x, period.of(x)))


@router.get("/nurture", summary="Nurtured leads due back")
def nurture(
    _who: MarketingDep,
    backend: BackendDep,
    days: Annotated[int, Query(ge=0, le=3660, description="due within this many days")] = 30,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Nurtured leads whose re-entry date has passed or comes within `days` days, soonest
    first (`total` counts them all)."""
    return run_report(backend, lambda c, x: reports.nurture_due(c, x, days, limit, offset))


@router.get("/leads", summary="Search and list leads")
def leads(
    _who: MarketingDep,
    backend: BackendDep,
    period: PeriodDep,
    q: Annotated[str | None, Query(description="name, email, company or external id")] = None,
    outcome: Literal["open", "decided", "accept", "reject", "nurture"] | None = None,
    campaign: Filter = None,
    source: Filter = None,
    industry: Filter = None,
    company_size: Filter = None,
    country: Filter = None,
    title: Filter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """With a period and no outcome: the MQLs received in it; with an outcome other than
    open: the leads decided so in it."""
    dated = bool(period.preset or period.start or period.end or (outcome and outcome != "open"))
    return run_report(
        backend,
        lambda c, x: reports.leads(
            c,
            x,
            q=q,
            p=period.of(x) if dated else None,
            outcome=outcome,
            limit=limit,
            offset=offset,
            campaign=campaign,
            source=source,
            industry=industry,
            company_size=company_size,
            country=country,
            title=title,
        ),  # fmt: skip
    )


@router.get("/leads/{ref}", summary="A lead and its whole history")
def lead(_who: MarketingDep, backend: BackendDep, ref: str) -> dict[str, Any]:
    """Imports, assignments, decisions with notes, reopenings and earlier cycles."""
    found = run_report(backend, lambda c, x: reports.lead_history(c, x, ref))
    if found is None:
        raise ServiceError(404, "unknown_lead", "no lead with that id or external_id")
    return found


@router.get("/policy", summary="The policy now and its version history")
def policy(_who: MarketingDep, backend: BackendDep) -> dict[str, Any]:
    return run_report(backend, lambda c, x: reports.policy_history(c, x.policy))


@router.get("/pack", summary="The review pack: every figure of one period")
def pack(_who: MarketingDep, backend: BackendDep, period: PeriodDep) -> dict[str, Any]:
    return run_report(backend, lambda c, x: reports.review_pack(c, x, period.of(x)))
