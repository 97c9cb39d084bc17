"""Who this server is and whether it can work: health (liveness), readiness, the caller,
the qualification policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

import triage
from triage import protocol
from triage.server.api.deps import BackendDep, CallerDep
from triage.server.api.errors import error, log

router = APIRouter(prefix="/v1", tags=["meta"])


@router.get("/health", response_model=protocol.Health)
def health(request: Request) -> dict[str, Any]:
    """Liveness, and who this server is (no authentication; see DESIGN's growth rules).
    Never touches the database: /v1/ready does."""
    identity = request.app.state.identity  # read once, when the app was made
    return {
        "status": "ok",
        "version": triage.__version__,
        "protocol": protocol.PROTOCOL_VERSION,
        "server_id": identity.server_id,
        "epoch": identity.epoch,
        "features": list(protocol.FEATURES),
    }


@router.get("/ready")
def ready(backend: BackendDep) -> JSONResponse:
    """Readiness (no authentication): 200 when the database answers a small read within one
    second, else 503, so a load balancer stops routing here."""
    problem = backend.ready()
    if problem is None:
        return JSONResponse({"status": "ready"})
    log.warning("not ready: %s", problem)
    return error(503, "not_ready", "the database is unavailable or slow; see the server log")


@router.get("/me", response_model=protocol.Me)
def me(who: CallerDep, backend: BackendDep) -> dict[str, Any]:
    return {
        "id": who.id, "email": who.email, "name": who.name, "role": who.role,
        "server_id": backend.identity.server_id, "epoch": backend.current_epoch(),
    }  # fmt: skip


@router.get("/policy", response_model=protocol.PolicyWire)
def policy(_who: CallerDep, backend: BackendDep) -> dict[str, Any]:
    return backend.policy().to_dict()
