"""Webhook routes: subscriptions, their delivery log, redelivery and ping (admin scope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from api.deps import DeliveryStatusDep, LimitDep, OffsetDep, WebhooksDep
from api.schemas.common import Page
from api.schemas.webhooks import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookRotate,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookCreate, webhooks: WebhooksDep) -> WebhookCreated:
    """Subscribe a URL to events; the signing secret is in this response only."""
    hook, secret = webhooks.create(body.url, body.events, body.secret, body.description)
    return WebhookCreated(**WebhookOut.of(hook).model_dump(), secret=secret)


@router.get("", response_model=list[WebhookOut])
def list_webhooks(webhooks: WebhooksDep) -> list[WebhookOut]:
    """Every subscription, newest first, without secrets."""
    return [WebhookOut.of(hook) for hook in webhooks.repository.all()]


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, webhooks: WebhooksDep) -> WebhookOut:
    """One subscription."""
    return WebhookOut.of(webhooks.repository.get(webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut)
def update_webhook(webhook_id: str, body: WebhookUpdate, webhooks: WebhooksDep) -> WebhookOut:
    """Change the URL (checked again), events, description, or pause with ``active: false``."""
    return WebhookOut.of(
        webhooks.update(
            webhook_id,
            url=body.url,
            events=body.events,
            active=body.active,
            description=body.description,
        )
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, webhooks: WebhooksDep) -> Response:
    """Remove a subscription and its delivery log."""
    webhooks.repository.delete(webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookCreated)
def rotate_secret(
    webhook_id: str, webhooks: WebhooksDep, body: Annotated[WebhookRotate | None, Body()] = None
) -> WebhookCreated:
    """Replace the signing secret (shown in this response only); the old one keeps signing
    for the grace period, as a second ``v1=`` value of ``X-KB-Signature``."""
    body = body or WebhookRotate()
    hook, secret = webhooks.rotate_secret(
        webhook_id, body.secret, timedelta(seconds=body.grace_period_s)
    )
    return WebhookCreated(**WebhookOut.of(hook).model_dump(), secret=secret)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    webhook_id: str,
    webhooks: WebhooksDep,
    state: DeliveryStatusDep = None,
    limit: LimitDep = 50,
    offset: OffsetDep = 0,
) -> Page[DeliveryOut]:
    """The subscription's deliveries, newest first."""
    items, total = webhooks.repository.deliveries(webhook_id, state, limit, offset)
    return Page(items=[DeliveryOut.of(d) for d in items], total=total, limit=limit, offset=offset)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def redeliver(webhook_id: str, delivery_id: str, webhooks: WebhooksDep) -> DeliveryOut:
    """Send the same event again (same body and ``event_id``) as a new delivery."""
    return DeliveryOut.of(webhooks.redeliver(webhook_id, delivery_id))


@router.post("/{webhook_id}/ping", response_model=DeliveryOut, status_code=status.HTTP_202_ACCEPTED)
def ping(webhook_id: str, webhooks: WebhooksDep) -> DeliveryOut:
    """Send a ``ping`` event to this subscription."""
    return DeliveryOut.of(webhooks.ping(webhook_id))
