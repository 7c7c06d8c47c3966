"""The FastAPI application, created around a container of services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.container import Container
from api.errors import BodySizeLimit, install_error_handlers
from api.routes import answers, chat, crawls, documents, health, kbs, openai_compat


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
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_json_bytes=container.settings.api.max_json_bytes,
        max_upload_bytes=container.settings.ingest.max_upload_bytes,
    )
    for module in (health, kbs, documents, answers, crawls, chat, openai_compat):
        app.include_router(module.router)
    return app
