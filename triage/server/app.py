"""The FastAPI app of Triage's server, built by `create_app(backend)` from the routers in
triage/server/api/ and the workspace (triage/server/web/); no I/O at import time."""

from __future__ import annotations

from fastapi import FastAPI

import triage
from triage import protocol
from triage.server.api import errors
from triage.server.service import Backend


def create_app(
    backend: Backend,
    *,
    max_body: int = protocol.MAX_BODY_BYTES,
    public_url: str | None = None,
    metrics_token: str | None = None,
    access_log: bool = False,
) -> FastAPI:
    """The server's app over `backend`: its routers, the workspace, JSON errors and the body
    limit. `public_url`: the address people reach the server at; an https one makes the
    workspace's cookies Secure (as does a request that came over https). `/metrics`
    (triage.server.metrics) answers loopback, and with `metrics_token` that bearer token.
    `access_log`: a JSON line a request on the logger triage.server.access."""
    from triage.server import web
    from triage.server.api import actions, marketing, meta, reports, sync, webhooks
    from triage.server.metrics import Metrics, MetricsMiddleware, endpoint
    from triage.server.suggest.retrain import lifespan

    app = FastAPI(
        title="Triage server",
        version=triage.__version__,
        docs_url=None,  # /docs is the workspace's offline page (triage.server.web.docs)
        redoc_url=None,
        lifespan=lifespan,  # webhook delivery and retraining (under `triage server run`)
        summary="Sync protocol v1 for Triage: reps pull leads and push decisions; marketing "
        "loads leads and reads feedback.",
    )
    app.state.backend = backend
    app.state.metrics = metrics = Metrics()
    metrics.watch_webhooks(backend)
    backend.db.lock_waited = metrics.lock_wait.observe
    app.state.identity = backend.identity  # read once: liveness must not touch the database
    errors.install(app)
    for router in (
        meta.router,
        sync.router,
        marketing.router,
        reports.router,
        actions.router,
        webhooks.router,
    ):
        app.include_router(router)
    app.add_route("/metrics", endpoint(metrics, metrics_token), include_in_schema=False)
    web.mount(app, public_url=public_url)
    app.add_middleware(errors.BodyLimit, limit=max_body)
    # outermost: it times the rest
    app.add_middleware(MetricsMiddleware, metrics=metrics, access_log=access_log)
    return app
