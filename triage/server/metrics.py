"""`GET /metrics` in Prometheus's text format (prometheus-client, the server extra).

What is counted, per process (each `triage server run` keeps its own registry: scrape
every instance and sum in Prometheus; `triage server run` starts one uvicorn worker, so
there is no multiprocess mode to set up):
- HTTP requests by method, route template (`/v1/leads/{lead_id}/assign`, never the raw
  path: a path can carry ids, and a 404's path anything at all) and status; their latency
  as a histogram by method and route;
- sync: pushes and pulls, mutations pushed by result (applied, duplicate, conflict,
  invalid, out_of_order), leads and revocations pulled, and sync requests that failed
  (a 5xx, or an exception);
- import rows by outcome (created, updated, unchanged, skipped), for the imports this
  process ran (`POST /v1/leads`, the workspace's upload; a CLI import counts in its own);
- webhooks, read from the database at each scrape (so the same for every instance):
  deliveries waiting, those of them that have failed at least once, endpoints failing;
- the wait for the write lock (the change counter: SQLite's database lock, PostgreSQL's
  counter row) of each write that allocates change numbers (a push, an import's chunk,
  marketing's actions): where many reps and imports meet.

The same middleware writes the access log (`triage server run`; `--no-access-log` turns it
off): one JSON line a request on stderr, with a request id (a proxy's X-Request-ID when it
looks like one, else a new one; sent back in X-Request-ID), the method, the route template
and the path without its query (a query can carry a search for a person's name; the path
of a request no route matched is left out too), the status, the time in ms and the client's address. Never a header, so never a token.

Who may read it (`metrics_guard`): a request from this machine's loopback that came
through no proxy, or anyone with `Authorization: Bearer <TRIAGE_METRICS_TOKEN>` when the
server was started with that variable set. The token is never taken on the command line
(any user of the machine can read a process's arguments) and never appears in a metric.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
# Latency buckets (seconds): a pull or push is a few ms to a few hundred; an import or a
# report may take seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The lock is usually free (well under a millisecond); behind an import's chunk or a large
# push it is tens to hundreds of ms.
LOCK_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0)
ACCESS = logging.getLogger("triage.server.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class Metrics:
    """One process's metrics, in their own registry (a test makes as many as it likes)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "triage_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "triage_http_request_duration_seconds", "Time to answer a request",
            ["method", "route"], buckets=BUCKETS, registry=r,
        )  # fmt: skip
        self.pushes = Counter("triage_sync_pushes", "Push requests answered", registry=r)
        self.pulls = Counter("triage_sync_pulls", "Pull requests answered", registry=r)
        self.mutations = Counter(
            "triage_sync_mutations", "Mutations pushed, by result", ["result"], registry=r
        )
        self.pulled = Counter(
            "triage_sync_pulled", "Leads and revocations sent in pulls", ["kind"], registry=r
        )
        self.sync_errors = Counter(
            "triage_sync_errors", "Sync requests that failed on the server (5xx)", ["route"],
            registry=r,
        )  # fmt: skip
        self.import_rows = Counter(
            "triage_import_rows", "Import rows, by outcome", ["outcome"], registry=r
        )
        self.lock_wait = Histogram(
            "triage_db_write_lock_wait_seconds",
            "Time a write waited for the change counter's lock (SQLite: the database's)",
            buckets=LOCK_BUCKETS, registry=r,
        )  # fmt: skip

    def pushed(self, answer: dict[str, Any]) -> None:
        self.pushes.inc()
        counts: dict[str, int] = {}
        for result in answer.get("results", ()):
            counts[result.get("status", "?")] = counts.get(result.get("status", "?"), 0) + 1
        for status, n in counts.items():
            self.mutations.labels(status).inc(n)

    def pulled_answer(self, answer: dict[str, Any]) -> None:
        self.pulls.inc()
        self.pulled.labels("lead").inc(len(answer.get("leads", ())))
        self.pulled.labels("revoked").inc(len(answer.get("revoked", ())))

    def imported(self, counts: dict[str, int]) -> None:
        for outcome in ("created", "updated", "unchanged", "skipped"):
            if counts.get(outcome):
                self.import_rows.labels(outcome).inc(counts[outcome])

    def watch_webhooks(self, backend: Any) -> None:
        """Webhook delivery figures, read from `backend`'s database at each scrape."""
        self.registry.register(_WebhookCollector(backend))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _WebhookCollector:
    def __init__(self, backend: Any):
        self.backend = backend

    def describe(self) -> Iterable[Any]:
        return []  # figures from the database: not read at registration

    def collect(self) -> Iterable[Any]:
        from sqlalchemy import func, select

        from triage.server.models_webhooks import WebhookEndpoint, WebhookOutbox

        pending = WebhookOutbox.state == "pending"
        with self.backend.db.read() as s:
            waiting = s.execute(select(func.count()).where(pending)).scalar_one()
            failed = s.execute(
                select(func.count()).where(pending, WebhookOutbox.attempts > 0)
            ).scalar_one()
            failing = s.execute(
                select(func.count()).where(WebhookEndpoint.failing_since.is_not(None))
            ).scalar_one()
        yield GaugeMetricFamily(
            "triage_webhook_backlog", "Webhook deliveries waiting (all instances)", waiting
        )
        yield GaugeMetricFamily(
            "triage_webhook_failed_waiting",
            "Waiting webhook deliveries that have failed at least once (all instances)", failed,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "triage_webhook_endpoints_failing", "Webhook endpoints failing now", failing
        )


def request_id(scope: Scope) -> str:
    """The request's id: the X-Request-ID a proxy set, when it looks like one (no spaces,
    quotes or control characters: it is logged), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex[:16]


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template, and writes its access
    log line when `access_log` (pure ASGI: it sees the status of streamed answers too, and
    adds no task per request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = False):
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            took = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope.get("method", "?")
            m = self.metrics
            m.requests.labels(method, template, str(status)).inc()
            m.latency.labels(method, template).observe(took)
            if status >= 500 and template.startswith("/v1/sync/"):
                m.sync_errors.labels(template).inc()
            if self.access_log:
                _access(scope, rid, method, template, status, took)


def _access(scope: Scope, rid: str, method: str, route: str, status: int, took: float) -> None:
    client = scope.get("client")
    ACCESS.info(
        json.dumps(
            {
                "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "request_id": rid,
                "method": method,
                "route": route,
                # never the query string; an unmatched path not at all (it can be anything,
                # a token pasted into the address bar included)
                "path": scope.get("path", "") if route != UNMATCHED else None,
                "status": status,
                "ms": round(took * 1000, 1),
                "client": client[0] if client else None,
            },
            ensure_ascii=True,  # a hostile path stays one line of plain text
        )
    )


_PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def allowed(request: Request, token: str | None) -> bool:
    """May this request read /metrics? With a token configured: exactly that bearer token
    (compared in constant time), from anywhere. Else, and also with one: a request from
    loopback that came through no proxy (a proxy on this machine would make every
    visitor look local)."""
    given = request.headers.get("authorization", "")
    if token and given.startswith("Bearer "):
        return hmac.compare_digest(given[7:].encode(), token.encode())
    if any(name in _PROXY_HEADERS for name, _ in request.scope.get("headers", ())):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint(metrics: Metrics, token: str | None) -> Any:
    async def serve(request: Request) -> Response:
        if not allowed(request, token):
            return Response(
                '{"error": "forbidden", "detail": "/metrics answers loopback only, or the '
                'bearer token set by TRIAGE_METRICS_TOKEN"}',
                status_code=403,
                media_type="application/json",
            )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return serve
