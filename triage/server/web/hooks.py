"""The workspace's webhooks page: each webhook with its state, what waits and its last
delivery; a webhook's recent deliveries; forms (with the CSRF token, as every form here)
to add one (its secret shown on the answer page, once), remove, test, rotate the secret
and redeliver an event. The same service calls as `triage server webhook` and
/v1/webhooks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from triage.server.api.deps import BackendDep
from triage.server.service import Backend, ServiceError
from triage.server.web import sessions
from triage.server.web.pages import FormUserDep, UserDep, render
from triage.server.webhooks import events

router = APIRouter(prefix="/web/webhooks", include_in_schema=False)
OVERLAPS = [("24", "24 hours"), ("72", "3 days"), ("168", "7 days"), ("0", "none: switch now")]


def _when(t: datetime | None) -> str:
    return "–" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _state(w: Any) -> str:
    if w.state != "active":
        return f"failing since {_when(w.failing_since)}"
    if w.retry_at is not None:
        return f"retrying at {_when(w.retry_at)}"
    return "active"


def _page(
    request: Request, user: sessions.WebUser, backend: Backend, status: int = 200,
    show: int | None = None, **ctx: Any,
) -> Response:  # fmt: skip
    hooks = backend.webhooks()
    shown, deliveries = None, []
    if show is None and hooks:
        show = hooks[0].id
    if show is not None:
        try:
            shown, deliveries = backend.webhook_deliveries(show, 50)
        except ServiceError:
            shown = None
    return render(
        request, "webhooks.html", user, status, page="webhooks", hooks=hooks, shown=shown,
        deliveries=deliveries, when=_when, state=_state, kinds=events.EVENT_TYPES,
        overlaps=OVERLAPS, **ctx,
    )  # fmt: skip


def _id(value: Any) -> int | None:
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isdigit() and len(text) < 10 else None


@router.get("")
def webhooks_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    return _page(request, user, backend, show=_id(request.query_params.get("show")))


async def _act(request: Request, user: sessions.WebUser, backend: Backend, fn: Any) -> Response:
    """Run `fn(form)` -> (message, page context); a ServiceError is shown and changes
    nothing. In a worker thread: these wait on the database, and a test on the receiver."""
    form = await request.form()
    try:
        message, ctx = await run_in_threadpool(fn, form)
    except ServiceError as exc:
        status = exc.status if 400 <= exc.status < 600 else 400
        return _page(request, user, backend, status, show=_id(form.get("show")),
                     error=exc.detail)  # fmt: skip
    return _page(request, user, backend, message=message, **ctx)


@router.post("/add")
async def add(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    def go(form: Any) -> tuple[str, dict[str, Any]]:
        url = str(form.get("url") or "").strip()
        if not url:
            raise ServiceError(400, "bad_url", "enter the receiver's URL (https://...)")
        kinds = [k for k in form.getlist("events") if isinstance(k, str)]
        info, secret = backend.add_webhook(url, kinds or None)
        return f"Added webhook {info.id}: {info.url}.", {"secret": secret, "show": info.id,
                                                          "secret_for": info.id}  # fmt: skip

    return await _act(request, user, backend, go)


@router.post("/{webhook_id}/remove")
async def remove(request: Request, webhook_id: int, user: FormUserDep,
                 backend: BackendDep) -> Response:  # fmt: skip
    def go(form: Any) -> tuple[str, dict[str, Any]]:
        info, dropped = backend.remove_webhook(webhook_id)
        gone = f"; {dropped} undelivered event(s) dropped with it" if dropped else ""
        return f"Removed webhook {info.id} ({info.url}){gone}.", {}

    return await _act(request, user, backend, go)


@router.post("/{webhook_id}/test")
async def test(request: Request, webhook_id: int, user: FormUserDep,
               backend: BackendDep) -> Response:  # fmt: skip
    def go(form: Any) -> tuple[str, dict[str, Any]]:
        target, answer = backend.test_webhook(webhook_id)
        return (f"Webhook {target.id} took a signed webhook.test event: {answer}.",
                {"show": target.id})  # fmt: skip

    return await _act(request, user, backend, go)


@router.post("/{webhook_id}/rotate")
async def rotate(request: Request, webhook_id: int, user: FormUserDep,
                 backend: BackendDep) -> Response:  # fmt: skip
    def go(form: Any) -> tuple[str, dict[str, Any]]:
        hours = str(form.get("overlap") or "24")
        if hours not in dict(OVERLAPS):
            raise ServiceError(400, "bad_overlap", "choose an overlap from the list")
        info, secret, until = backend.rotate_webhook(webhook_id, timedelta(hours=int(hours)))
        how = (f"until {_when(until)} deliveries are signed with both secrets"
               if until else "the old secret signs nothing from now on")  # fmt: skip
        return (f"Webhook {info.id} has a new signing secret; {how}.",
                {"secret": secret, "show": info.id, "secret_for": info.id})  # fmt: skip

    return await _act(request, user, backend, go)


@router.post("/redeliver")
async def redeliver(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    def go(form: Any) -> tuple[str, dict[str, Any]]:
        event_id = str(form.get("event_id") or "").strip()[:40]
        if not event_id:
            raise ServiceError(400, "unknown_event", "enter an event id (evt_...)")
        done = backend.redeliver(event_id, _id(form.get("webhook")))
        where = ", ".join(f"webhook {w} (#{q})" for w, q in done)
        return (f"Event {event_id} will be sent again to {where}, then the events waiting "
                "behind it, in order.", {"show": done[0][0]})  # fmt: skip

    return await _act(request, user, backend, go)
