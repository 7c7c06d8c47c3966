"""The FastAPI application, created around a container of services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.params import Depends as DependsParam

from api.auth import require, require_kb_access, unrestricted
from api.container import Container
from api.errors import BodySizeLimit, install_error_handlers
from api.ratelimit import RateLimiter, RateLimitHeaders
from api.routes import answers, chat, crawls, documents, health, kbs, keys, openai_compat

# The scope each router requires: reads need kb:read and writes kb:write on the knowledge-base
# routers; answers guards each route itself (search reads, query chats); health stays open.
_KB_ACCESS = [Depends(require_kb_access)]
_GUARDS: list[tuple[Any, list[DependsParam]]] = [
    (health, []),
    (kbs, _KB_ACCESS),
    (documents, _KB_ACCESS),
    (crawls, _KB_ACCESS),
    (answers, []),
    (chat, [Depends(require("chat"))]),
    (openai_compat, [Depends(require("chat"))]),
    # A key limited to some knowledge bases must not mint itself an unlimited one.
    (keys, [Depends(require("admin")), Depends(unrestricted)]),
]


def create_app(container: Container) -> FastAPI:
    """The HTTP API over ``container``; tests hand in their own."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        container.crawls.recover()
        yield
        container.close()  # cancels running crawls first

    app = FastAPI(
        title="kb-engine",
        version="0.1.0",
        description="Knowledge bases, documents, search and grounded answers with citations.",
        lifespan=lifespan,
    )
    app.state.container = container
    security = container.settings.security
    app.state.rate_limiter = RateLimiter(security.rate_limit, security.rate_limit_storage)
    install_error_handlers(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        BodySizeLimit,
        max_json_bytes=container.settings.api.max_json_bytes,
        max_upload_bytes=container.settings.ingest.max_upload_bytes,
    )
    for module, guards in _GUARDS:
        app.include_router(module.router, dependencies=guards)
    return app
