"""The web console's routes, one module per page (docs/console.md); all outside the /v1
OpenAPI schema, authenticated by the console session rather than an API key."""

from __future__ import annotations

from fastapi import FastAPI

from api.middleware.ratelimit import RateLimiter
from api.routes.console import (
    account,
    conversations,
    crawls,
    documents,
    kbs,
    keys,
    oauth,
    platform,
    trial,
    webhooks,
    widget,
)

PAGES = (
    account,
    kbs,
    documents,
    crawls,
    trial,
    conversations,
    widget,
    keys,
    oauth,
    webhooks,
    platform,
)


def install_console(app: FastAPI) -> None:
    """Serve the console's pages, its JSON endpoints and its static files on ``app``."""
    settings = app.state.container.settings
    app.state.console_sign_in_limiter = RateLimiter(
        settings.console.sign_in_rate_limit, settings.security.rate_limit_storage
    )
    for module in PAGES:
        app.include_router(module.router)
