"""Sync protocol v1, the rep's side: pull (with the history check), push, lookup."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from triage import protocol
from triage.server.api.deps import (
    BackendDep,
    ClientId,
    Cursor,
    Digest,
    Limit,
    MetricsDep,
    Own,
    RepDep,
    SuggestionForm,
)
from triage.server.services.common import answer_json

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.get("/pull", response_model=protocol.PullResponse)
def pull(
    who: RepDep,
    backend: BackendDep,
    metrics: MetricsDep,
    cursor: Cursor = 0,
    limit: Limit = protocol.DEFAULT_PULL_LIMIT,
    client_id: ClientId = None,
    digest: Digest = None,
    own: Own = False,
    suggestion: SuggestionForm = None,
) -> JSONResponse:
    cid = str(client_id) if client_id else None
    answer = backend.pull_answer(
        who, cursor, limit, cid, digest, own=own and cid is not None, listed=suggestion == "list"
    )
    metrics.pulled_answer(answer)
    return Response(answer_json(answer), media_type="application/json")


@router.post("/push", response_model=protocol.PushResponse)
def push(
    who: RepDep, backend: BackendDep, body: protocol.PushRequest, metrics: MetricsDep
) -> JSONResponse:
    answer = backend.push(who, str(body.client_id), body.mutations, patch=body.patch)
    metrics.pushed(answer)
    return JSONResponse(answer)


@router.post("/lookup", response_model=protocol.LookupResponse)
def lookup(
    who: RepDep, backend: BackendDep, body: protocol.LookupRequest, client_id: ClientId = None
) -> JSONResponse:
    """("lookup") The current state of the given leads that are the caller's."""
    cid = str(client_id) if client_id else None
    answer = backend.lookup_answer(who, body.lead_ids, cid)
    return Response(answer_json(answer), media_type="application/json")
