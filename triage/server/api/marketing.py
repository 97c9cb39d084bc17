"""Marketing's side of protocol v1: leads in (bulk upsert), assignment, the feedback
stream, the qualification report."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from triage import protocol
from triage.server.api.deps import BackendDep, Cursor, Digest, Limit, MarketingDep, MetricsDep

router = APIRouter(prefix="/v1", tags=["marketing"])


@router.post("/leads", response_model=protocol.UpsertResponse)
def upsert(
    _who: MarketingDep, backend: BackendDep, body: protocol.UpsertRequest, metrics: MetricsDep
) -> dict[str, int]:
    created, updated, unchanged = backend.upsert_leads(body.leads)
    metrics.imported({"created": created, "updated": updated, "unchanged": unchanged})
    return {"created": created, "updated": updated, "unchanged": unchanged}


@router.post("/leads/{lead_id}/assign", response_model=protocol.LeadWire)
def assign(
    who: MarketingDep, backend: BackendDep, lead_id: str, body: protocol.AssignRequest
) -> JSONResponse:
    return JSONResponse(backend.assign(lead_id, body.owner, force=body.force, by=who.email))


@router.get("/feedback", response_model=protocol.FeedbackResponse)
def feedback(
    _who: MarketingDep,
    backend: BackendDep,
    cursor: Cursor = 0,
    limit: Limit = protocol.DEFAULT_PULL_LIMIT,
    digest: Digest = None,
) -> JSONResponse:
    return JSONResponse(backend.feedback(cursor, limit, digest))


@router.get("/reports/qualification", response_model=protocol.Report)
def report(
    _who: MarketingDep,
    backend: BackendDep,
    by: Literal["campaign", "source", "rep"] = "campaign",
) -> dict[str, Any]:
    return backend.report(by)
