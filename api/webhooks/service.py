"""Webhook subscriptions as the API manages them: vetted URLs, generated secrets, pings and
redeliveries (sending is api.webhooks.delivery's worker)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from api.webhooks.delivery import WebhookDispatcher, check_url
from kb.runtime.events import Event
from kb.settings.service import WebhookSettings
from kb.webhooks.models import Delivery, Webhook, event_body
from kb.webhooks.repository import WebhookRepository

SECRET_MARK = "whsec_"


def new_secret() -> str:
    """A random signing secret: ``whsec_`` and 256 random bits."""
    return f"{SECRET_MARK}{secrets.token_urlsafe(32)}"


class WebhookService:
    """Subscriptions with vetted URLs and generated secrets, pings and redeliveries."""

    def __init__(
        self,
        repository: WebhookRepository,
        dispatcher: WebhookDispatcher,
        settings: WebhookSettings,
    ) -> None:
        self.repository = repository
        self._dispatcher = dispatcher
        self._allowed = settings.allowed_hosts

    def create(
        self, url: str, events: Sequence[str], secret: str | None, description: str
    ) -> tuple[Webhook, str]:
        """A new subscription and its signing secret (generated when not given)."""
        check_url(url, self._allowed)
        secret = secret or new_secret()
        return self.repository.create(url, events, secret, description), secret

    def rotate_secret(
        self, webhook_id: str, secret: str | None, grace: timedelta
    ) -> tuple[Webhook, str]:
        """A new signing secret (generated when not given); the old one signs too for
        ``grace``, so receivers can switch without losing deliveries."""
        secret = secret or new_secret()
        return self.repository.rotate_secret(webhook_id, secret, grace), secret

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        active: bool | None = None,
        description: str | None = None,
    ) -> Webhook:
        """Change a subscription; a new URL is vetted like a new subscription's."""
        self.repository.get(webhook_id)
        if url is not None:
            check_url(url, self._allowed)
        hook = self.repository.update(
            webhook_id, url=url, events=events, active=active, description=description
        )
        self._dispatcher.wake()  # reactivated: its waiting deliveries are due
        return hook

    def ping(self, webhook_id: str) -> Delivery:
        """Queue a ``ping`` event to this subscription alone."""
        event = Event("ping", {"webhook_id": webhook_id})
        delivery = self.repository.add_delivery(webhook_id, event.type, event.id, event_body(event))
        self._dispatcher.wake()
        return delivery

    def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Queue a new delivery of the same event, byte for byte (same ``event_id``)."""
        old = self.repository.get_delivery(webhook_id, delivery_id)
        delivery = self.repository.add_delivery(webhook_id, old.event, old.event_id, old.body)
        self._dispatcher.wake()
        return delivery
