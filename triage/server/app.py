"""The FastAPI app of protocol v1. Built by `create_app(backend)`; no I/O at import time."""

import logging
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import triage
from triage import domain, protocol
from triage.server.service import Backend, Caller, RowProblems, ServiceError

log = logging.getLogger("triage.server")


def _error(status: int, code: str, detail: str = "", **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status)


class BodyLimit:
    """Answers 413 before reading more than `limit` bytes of a request body."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _error(413, "too_large", f"request body over {self.limit} bytes")(
                        scope, receive, send
                    )
                    return
        if any(name == b"content-length" for name, _ in scope.get("headers", ())):
            await self.app(scope, receive, send)
            return
        # No length given (chunked): read the body here, up to the limit, then replay it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _error(413, "too_large", f"request body over {self.limit} bytes")(
                    scope, receive, send
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(
    backend: Backend, *, max_body: int = protocol.MAX_BODY_BYTES, public_url: str | None = None
) -> FastAPI:
    """`public_url`: the address people reach the server at; an https one makes the
    workspace's cookies Secure (as does a request that came over https)."""
    app = FastAPI(
        title="Triage server",
        version=triage.__version__,
        docs_url=None,  # /docs is the workspace's offline page (triage.server.web.docs)
        redoc_url=None,
        summary="Sync protocol v1 for Triage: reps pull leads and push decisions; marketing loads leads and reads feedback.",
    )
    app.state.backend = backend
    identity = backend.identity  # read once: liveness must not touch the database

    @app.exception_handler(ServiceError)
    async def _service_error(_req: Request, exc: ServiceError) -> JSONResponse:
        if isinstance(exc, RowProblems):
            rows = [{"row": label, "problems": p} for label, p in exc.problems]
            return _error(exc.status, exc.code, exc.detail, rows=rows)
        return _error(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "bad_json", "the request body is not valid JSON")
        parts = []
        for e in errors[:10]:
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{loc}: {e.get('msg')}")
        return _error(422, "invalid_request", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, "internal", "the server failed; nothing was changed, try again")

    # The bearer scheme of triage.server.deps: declared in OpenAPI for every endpoint.
    from triage.server.deps import bearer_caller as caller

    def rep(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role != domain.Role.REP:
            raise ServiceError(403, "forbidden", "this endpoint is for reps")
        return who

    def marketing(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role != domain.Role.MARKETING:
            raise ServiceError(403, "forbidden", "this endpoint is for marketing")
        return who

    @app.get("/v1/health", response_model=protocol.Health)
    def health() -> dict[str, Any]:
        """Liveness, and who this server is (no authentication; see DESIGN's growth rules).
        Never touches the database: /v1/ready does."""
        return {
            "status": "ok",
            "version": triage.__version__,
            "protocol": protocol.PROTOCOL_VERSION,
            "server_id": identity.server_id,
            "epoch": identity.epoch,
            "features": list(protocol.FEATURES),
        }

    @app.get("/v1/ready")
    def ready() -> JSONResponse:
        """Readiness (no authentication): 200 when the database answers a small read within
        one second, else 503, so a load balancer stops routing here."""
        problem = backend.ready()
        if problem is None:
            return JSONResponse({"status": "ready"})
        log.warning("not ready: %s", problem)
        return _error(503, "not_ready", "the database is unavailable or slow; see the server log")

    @app.get("/v1/me", response_model=protocol.Me)
    def me(who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
        identity = backend.identity
        return {
            "id": who.id, "email": who.email, "name": who.name, "role": who.role,
            "server_id": identity.server_id, "epoch": backend.current_epoch(),
        }  # fmt: skip

    @app.get("/v1/policy", response_model=protocol.PolicyWire)
    def policy(_who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
        return backend.policy().to_dict()

    @app.get("/v1/sync/pull", response_model=protocol.PullResponse)
    def pull(
        who: Annotated[Caller, Depends(rep)],
        cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[
            int, Query(ge=1, le=protocol.MAX_PULL_LIMIT)
        ] = protocol.DEFAULT_PULL_LIMIT,
        # A UUID, as in push: any spelling of it names the same client.
        client_id: Annotated[UUID | None, Query()] = None,
        # "history_check": the cursor_digest the answer that gave `cursor` carried.
        digest: Annotated[str | None, Query(max_length=protocol.MAX_DIGEST)] = None,
    ) -> JSONResponse:
        cid = str(client_id) if client_id else None
        return JSONResponse(backend.pull(who, cursor, limit, cid, digest))

    @app.post("/v1/sync/push", response_model=protocol.PushResponse)
    def push(who: Annotated[Caller, Depends(rep)], body: protocol.PushRequest) -> JSONResponse:
        return JSONResponse(backend.push(who, str(body.client_id), body.mutations))

    @app.post("/v1/sync/lookup", response_model=protocol.LookupResponse)
    def lookup(
        who: Annotated[Caller, Depends(rep)],
        body: protocol.LookupRequest,
        client_id: Annotated[UUID | None, Query()] = None,
    ) -> JSONResponse:
        """("lookup") The current state of the given leads that are the caller's."""
        cid = str(client_id) if client_id else None
        return JSONResponse(backend.lookup(who, body.lead_ids, cid))

    @app.post("/v1/leads", response_model=protocol.UpsertResponse)
    def upsert(
        _who: Annotated[Caller, Depends(marketing)], body: protocol.UpsertRequest
    ) -> dict[str, int]:
        created, updated, unchanged = backend.upsert_leads(body.leads)
        return {"created": created, "updated": updated, "unchanged": unchanged}

    @app.post("/v1/leads/{lead_id}/assign", response_model=protocol.LeadWire)
    def assign(
        who: Annotated[Caller, Depends(marketing)], lead_id: str, body: protocol.AssignRequest
    ) -> JSONResponse:
        return JSONResponse(backend.assign(lead_id, body.owner, force=body.force, by=who.email))

    @app.get("/v1/feedback", response_model=protocol.FeedbackResponse)
    def feedback(
        _who: Annotated[Caller, Depends(marketing)],
        cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[
            int, Query(ge=1, le=protocol.MAX_PULL_LIMIT)
        ] = protocol.DEFAULT_PULL_LIMIT,
        digest: Annotated[str | None, Query(max_length=protocol.MAX_DIGEST)] = None,
    ) -> JSONResponse:
        return JSONResponse(backend.feedback(cursor, limit, digest))

    @app.get("/v1/reports/qualification", response_model=protocol.Report)
    def report(
        _who: Annotated[Caller, Depends(marketing)],
        by: Literal["campaign", "source", "rep"] = "campaign",
    ) -> dict[str, Any]:
        return backend.report(by)

    from triage.server import api_actions, api_reports, web

    app.include_router(api_reports.router)
    app.include_router(api_actions.router)
    web.mount(app, public_url=public_url)
    app.add_middleware(BodyLimit, limit=max_body)
    return app
