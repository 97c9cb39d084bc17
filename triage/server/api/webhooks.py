"""Marketing's webhooks over HTTP (the same as `triage server webhook ...`): list, add (the
signing secret in the answer, once), remove, test, deliveries, redeliver, rotate. A rep's
token gets 403; a secret is never listed and never in a URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from triage.server.api.deps import BackendDep, MarketingDep
from triage.server.services.webhooks import DeliveryInfo, EndpointInfo

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
NO_STORE = {"Cache-Control": "no-store"}


class Webhook(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    state: str = Field(description="active, or failing (its events wait for redeliver)")
    failing_since: datetime | None
    retry_at: datetime | None = Field(description="when its oldest event is tried again")
    pending: int
    delivered: int
    last_delivered_at: datetime | None
    previous_secret_until: datetime | None = Field(
        description="while a rotation overlaps: deliveries are signed with both secrets"
    )


class Delivery(BaseModel):
    sequence: int
    event_id: str
    type: str
    created_at: datetime
    state: str = Field(description="pending or delivered")
    attempts: int
    last_attempt_at: datetime | None
    last_result: str | None
    delivered_at: datetime | None


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="https://, or http:// to loopback")
    events: list[str] | None = Field(default=None, max_length=20, description="default: all")


class WithSecret(BaseModel):
    webhook: Webhook
    secret: str = Field(description="signs every delivery (README: Webhooks); shown once")
    previous_secret_until: datetime | None = None


class Removed(BaseModel):
    webhook: Webhook
    dropped: int = Field(description="its events not delivered, removed with it")


class Tested(BaseModel):
    webhook: Webhook
    answer: str


class Deliveries(BaseModel):
    webhook: Webhook
    deliveries: list[Delivery]


class Redeliver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(max_length=40)
    webhook: int | None = Field(default=None, description="to this webhook only")


class Redelivered(BaseModel):
    redelivered: list[dict[str, int]] = Field(description="[{webhook, sequence}]")


class Rotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: float = Field(default=24, ge=0, le=30 * 24)


def webhook_json(w: EndpointInfo) -> dict[str, Any]:
    return Webhook(
        id=w.id, url=w.url, events=list(w.events), created_at=w.created_at, state=w.state,
        failing_since=w.failing_since, retry_at=w.retry_at, pending=w.pending,
        delivered=w.delivered, last_delivered_at=w.last_delivered_at,
        previous_secret_until=w.previous_secret_until,
    ).model_dump(mode="json")  # fmt: skip


def delivery_json(d: DeliveryInfo) -> dict[str, Any]:
    return Delivery(
        sequence=d.seq, event_id=d.event_id, type=d.type, created_at=d.created_at,
        state=d.state, attempts=d.attempts, last_attempt_at=d.last_attempt_at,
        last_result=d.last_result, delivered_at=d.delivered_at,
    ).model_dump(mode="json")  # fmt: skip


@router.get("", response_model=WebhookList)
def list_webhooks(_who: MarketingDep, backend: BackendDep) -> JSONResponse:
    return JSONResponse({"webhooks": [webhook_json(w) for w in backend.webhooks()]})


@router.post("", response_model=WithSecret, status_code=201)
def add_webhook(_who: MarketingDep, backend: BackendDep, body: NewWebhook) -> JSONResponse:
    """A new webhook; the answer carries its signing secret, this once."""
    info, secret = backend.add_webhook(body.url.strip(), body.events)
    return JSONResponse({"webhook": webhook_json(info), "secret": secret}, 201, NO_STORE)


@router.delete("/{webhook_id}", response_model=Removed)
def remove_webhook(_who: MarketingDep, backend: BackendDep, webhook_id: int) -> JSONResponse:
    info, dropped = backend.remove_webhook(webhook_id)
    return JSONResponse({"webhook": webhook_json(info), "dropped": dropped})


@router.post("/{webhook_id}/test", response_model=Tested)
def test_webhook(_who: MarketingDep, backend: BackendDep, webhook_id: int) -> JSONResponse:
    """A signed webhook.test event sent now; 502 `test_failed` when the receiver did not
    take it."""
    target, answer = backend.test_webhook(webhook_id)
    return JSONResponse({"webhook": webhook_json(backend.webhook_info(target.id)),
                         "answer": answer})  # fmt: skip


@router.get("/{webhook_id}/deliveries", response_model=Deliveries)
def deliveries(
    _who: MarketingDep, backend: BackendDep, webhook_id: int,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> JSONResponse:  # fmt: skip
    """Its latest events, newest first, with how each delivery went."""
    info, rows = backend.webhook_deliveries(webhook_id, limit)
    return JSONResponse({"webhook": webhook_json(info),
                         "deliveries": [delivery_json(d) for d in rows]})  # fmt: skip


@router.post("/redeliver", response_model=Redelivered)
def redeliver(_who: MarketingDep, backend: BackendDep, body: Redeliver) -> JSONResponse:
    """Send an event again (and resume a failing webhook from it, in order)."""
    done = backend.redeliver(body.event_id.strip(), body.webhook)
    return JSONResponse({"redelivered": [{"webhook": w, "sequence": q} for w, q in done]})


@router.post("/{webhook_id}/rotate", response_model=WithSecret)
def rotate(_who: MarketingDep, backend: BackendDep, webhook_id: int, body: Rotate) -> JSONResponse:
    """A new signing secret (in the answer, once); for `overlap_hours` deliveries carry a
    signature with each secret."""
    info, secret, until = backend.rotate_webhook(webhook_id, timedelta(hours=body.overlap_hours))
    return JSONResponse(
        {"webhook": webhook_json(info), "secret": secret,
         "previous_secret_until": until.isoformat() if until else None},
        headers=NO_STORE,
    )  # fmt: skip
