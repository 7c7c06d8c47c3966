"""Console pages of webhooks (unrestricted admin keys, as over the API): subscribe a URL to
events (the signing secret shown once), pause or resume, delete, send a test delivery, and the
deliveries log with its states and redelivery."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, AdminDep
from api.deps import WebhooksDep
from kb.errors import InvalidInput
from kb.runtime.events import EventName
from kb.webhooks.models import DeliveryStatus

router = APIRouter(prefix=f"{PREFIX}/webhooks", route_class=ConsoleRoute, include_in_schema=False)
EVENTS: tuple[str, ...] = ("*", *get_args(EventName))
STATES: tuple[str, ...] = ("", *get_args(DeliveryStatus))
PAGE_SIZE = 50


def _back(webhook_id: str, flag: str = "saved") -> Response:
    return RedirectResponse(f"{PREFIX}/webhooks/{webhook_id}?{flag}=1", status_code=303)


@router.get("")
def webhooks_page(request: Request, caller: AdminDep, webhooks: WebhooksDep) -> Response:
    """Every subscription and the form to add one."""
    return render(request, "webhooks.html", {"hooks": webhooks.repository.all(), "events": EVENTS})


@router.post("")
def create(
    request: Request,
    caller: AdminDep,
    webhooks: WebhooksDep,
    url: Annotated[str, Form(min_length=1, max_length=4096)],
    events: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Subscribe ``url``; the page shows the signing secret this once."""
    chosen = [e for e in events or [] if e in EVENTS]
    if not chosen:
        raise InvalidInput("Choose at least one event (or all events).")
    hook, secret = webhooks.create(url.strip(), chosen, None, description)
    return render(request, "webhook_created.html", {"hook": hook, "secret": secret}, status=201)


@router.get("/{webhook_id}")
def webhook_page(
    request: Request,
    webhook_id: str,
    caller: AdminDep,
    webhooks: WebhooksDep,
    state: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """One subscription and its deliveries, newest first."""
    hook = webhooks.repository.get(webhook_id)
    chosen = state if state in STATES else ""
    items, total = webhooks.repository.deliveries(
        webhook_id, chosen or None, PAGE_SIZE, (page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "webhook.html",
        {
            "hook": hook,
            "deliveries": items,
            "total": total,
            "state": chosen,
            "states": STATES,
            "query": f"state={chosen}&",
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


@router.post("/{webhook_id}/active")
def set_active(
    webhook_id: str,
    caller: AdminDep,
    webhooks: WebhooksDep,
    active: Annotated[bool, Form()] = False,
) -> Response:
    """Pause or resume the subscription."""
    webhooks.update(webhook_id, active=active)
    return _back(webhook_id)


@router.post("/{webhook_id}/ping")
def ping(webhook_id: str, caller: AdminDep, webhooks: WebhooksDep) -> Response:
    """Send a ``ping`` event: a test delivery that shows in the log."""
    webhooks.ping(webhook_id)
    return _back(webhook_id, "started")


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    webhook_id: str, delivery_id: str, caller: AdminDep, webhooks: WebhooksDep
) -> Response:
    """Send the same event again as a new delivery."""
    webhooks.redeliver(webhook_id, delivery_id)
    return _back(webhook_id, "started")


@router.post("/{webhook_id}/delete")
def delete(webhook_id: str, caller: AdminDep, webhooks: WebhooksDep) -> Response:
    """Remove the subscription and its delivery log."""
    webhooks.repository.delete(webhook_id)
    return RedirectResponse(f"{PREFIX}/webhooks?deleted=1", status_code=303)
