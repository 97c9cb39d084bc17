"""Dependencies the routers share (as `Annotated` types): the backend, the bearer-token
caller (declared in OpenAPI as the HTTPBearer scheme) and its role, the protocol's query
parameters, and a consistent read of the database with the report context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection

from triage import domain, protocol
from triage.server import reports
from triage.server.metrics import Metrics
from triage.server.service import Backend, Caller, ServiceError


def get_backend(request: Request) -> Backend:
    return request.app.state.backend


BackendDep = Annotated[Backend, Depends(get_backend)]


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A Triage token (`triage server add-user ... --role marketing` prints one): "
    "`Authorization: Bearer <token>`.",
)


def bearer_caller(
    backend: BackendDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials.strip():
        raise ServiceError(401, "unauthorized", "send Authorization: Bearer <token>")
    who = backend.authenticate(credentials.credentials.strip())
    if who is None:
        raise ServiceError(
            401, "unauthorized", "unknown, revoked or expired token (or a deactivated user)"
        )
    return who


def marketing_caller(who: Annotated[Caller, Depends(bearer_caller)]) -> Caller:
    if who.role != domain.Role.MARKETING:
        raise ServiceError(403, "forbidden", "this endpoint is for marketing")
    return who


MarketingDep = Annotated[Caller, Depends(marketing_caller)]
CallerDep = Annotated[Caller, Depends(bearer_caller)]


def rep_caller(who: CallerDep) -> Caller:
    if who.role != domain.Role.REP:
        raise ServiceError(403, "forbidden", "this endpoint is for reps")
    return who


RepDep = Annotated[Caller, Depends(rep_caller)]

# The protocol's query parameters, bounded.
Cursor = Annotated[int, Query(ge=0, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=protocol.MAX_PULL_LIMIT)]
# A UUID, as in push: any spelling of it names the same client.
ClientId = Annotated[UUID | None, Query()]
# "history_check": the cursor_digest the answer that gave the cursor carried.
Digest = Annotated[str | None, Query(max_length=protocol.MAX_DIGEST)]
# "own_changes": leads last changed by this client's own decision or undo come as
# {id, version}, not whole (with client_id).
Own = Annotated[bool, Query()]
# "suggestion_list": a lead's suggestion comes as [outcome, reason, confidence, factors].
SuggestionForm = Annotated[Literal["list"] | None, Query()]


@contextmanager
def report_reader(backend: Backend) -> Iterator[tuple[Connection, reports.Context]]:
    """One consistent snapshot of the database and the report context read in it."""
    with backend.db.read() as s:
        conn = s.connection()
        if conn.dialect.name == "postgresql":
            # The report queries are short; PostgreSQL's JIT would spend longer compiling
            # them (about 40 ms at 100k leads) than they take to run.
            conn.exec_driver_sql("SET LOCAL jit = off")
        yield conn, reports.Context.load(conn, backend._policy(s))


def run_report(backend: Backend, fn: Callable[[Connection, reports.Context], Any]) -> Any:
    """`fn(conn, ctx)` in one snapshot; a ReportError is a 400."""
    try:
        with report_reader(backend) as (conn, ctx):
            return fn(conn, ctx)
    except reports.ReportError as exc:
        raise ServiceError(400, "bad_report_request", str(exc)) from None
