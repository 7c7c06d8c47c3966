"""The FastAPI application, created around a container of services."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.params import Depends as DependsParam

from api.auth import require, require_kb_access, unrestricted
from api.container import Container
from api.docs import install_docs
from api.errors import declare_error_responses, install_error_handlers
from api.middleware.audit import AuditTrail
from api.middleware.body_deadline import BodyDeadline
from api.middleware.body_limits import BodySizeLimit
from api.middleware.cors import Cors
from api.middleware.json_limits import JsonBodyLimits
from api.middleware.metrics import Metrics, MetricsMiddleware
from api.middleware.ratelimit import RateLimiter, RateLimitHeaders
from api.middleware.request_context import RequestContext
from api.middleware.security_headers import SecureFastAPI
from api.routes import (
    analytics,
    answers,
    audit,
    chat,
    crawls,
    documents,
    feedback,
    handoff,
    health,
    jobs,
    kbs,
    keys,
    leads,
    metrics,
    oauth,
    openai_compat,
    providers,
    users,
    webhooks,
    widget,
)
from api.routes.console import install_console
from api.web.quotas import build_quotas, visitor_quota

# The scope each router requires: reads need kb:read and writes kb:write on the knowledge-base
# routers; answers guards each route itself (search reads, query chats); health stays open.
_KB_ACCESS = [Depends(require_kb_access)]
_GUARDS: list[tuple[Any, list[DependsParam]]] = [
    (health, []),
    (kbs, _KB_ACCESS),
    (documents, _KB_ACCESS),
    (crawls, _KB_ACCESS),
    (jobs, [Depends(require("kb:read"))]),  # the route checks the job's knowledge base
    (answers, []),
    # Visitors' quotas after the key is known (publishable keys only).
    (chat, [Depends(require("chat")), Depends(visitor_quota)]),
    (feedback, [Depends(require("chat")), Depends(visitor_quota)]),
    (analytics, [Depends(require("kb:read"))]),  # the kb_id in the path is checked
    # Restricted keys reach their knowledge bases' users only (api.deps.user_scope).
    (users, [Depends(require("admin"))]),
    (openai_compat, [Depends(require("chat"))]),
    # A key limited to some knowledge bases must not mint itself an unlimited one.
    (keys, [Depends(require("admin")), Depends(unrestricted)]),
    (oauth, [Depends(require("admin")), Depends(unrestricted)]),
    (providers, [Depends(require("admin")), Depends(unrestricted)]),
    (webhooks, [Depends(require("admin")), Depends(unrestricted)]),
    (leads, []),  # guards each route: recording a lead chats, listing leads reads
    (handoff, []),  # guards each route: visitors chat, people need agent, settings admin
    (audit, [Depends(require("admin")), Depends(unrestricted)]),
    (metrics, [Depends(metrics.metrics_access)]),
    (widget, []),  # guards each route: the script is public, settings need admin
]


logger = logging.getLogger(__name__)


def _warm_up(container: Container) -> None:
    start = time.perf_counter()
    try:
        container.ingestion.warm_up()
    except Exception:  # a failure here shows again, with its cause, on the first real use
        logger.exception("warm-up failed")
        return
    logger.info(
        "warmed up in %.1f s (embedding model, sentence splitter)", time.perf_counter() - start
    )


def create_app(container: Container) -> FastAPI:
    """The HTTP API over ``container``; tests hand in their own."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not container.background.jobs.distributed:
            # Distributed, workers write while a replica starts: the lease sweeper, not the
            # replica, takes over their jobs, and `kb doctor` reconciles the indexes.
            container.crawls.recover()
            container.reconciler.at_start()  # what a killed process left in the indexes, logged
            container.background.scheduler.start()  # the lease sweeper (kb.jobs.schedule)
        container.webhook_dispatcher.start()  # sends deliveries a previous process left open
        # Deletes conversations past KB_PRIVACY__RETENTION_DAYS (distributed: the workers'
        # schedule runs it, once per period across them).
        if not container.background.jobs.distributed:
            container.data.retention.start()
        # The model and the splitter load in the background, not on the first request.
        threading.Thread(target=_warm_up, args=(container,), name="warm-up", daemon=True).start()
        yield
        container.close()  # cancels running crawls first

    app = SecureFastAPI(
        title="kb-engine",
        version="0.1.0",
        description="Knowledge bases, documents, search and grounded answers with citations.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI from a CDN: api.docs serves its own
        redoc_url=None,
    )
    install_docs(app)
    app.state.container = container
    security = container.settings.security
    app.state.rate_limiter = RateLimiter(
        security.rate_limit, security.rate_limit_storage, security.publishable_rate_limit
    )
    app.state.visitor_quotas = build_quotas(container.settings.widget, security)
    install_error_handlers(app)
    declare_error_responses(app)
    app.add_middleware(RateLimitHeaders)
    # Inside BodySizeLimit, so the JSON it reads is already capped in bytes.
    api_settings = container.settings.api
    app.add_middleware(
        JsonBodyLimits,
        max_depth=api_settings.max_json_depth,
        max_string_chars=api_settings.max_json_string_chars,
        max_items=api_settings.max_json_items,
    )
    app.add_middleware(
        BodySizeLimit,
        max_json_bytes=container.settings.api.max_json_bytes,
        max_upload_bytes=container.settings.ingest.max_upload_bytes,
    )
    # Outside everything that reads the body, so every read has the deadline.
    app.add_middleware(
        BodyDeadline,
        timeout_s=api_settings.body_timeout_s,
        min_bytes_per_s=api_settings.min_body_bytes_per_s,
    )
    # Outside BodySizeLimit, so 413s are audited, counted and carry the request id too.
    app.add_middleware(AuditTrail, audit_log=container.audit)
    app.state.metrics = Metrics(container.registry.engine)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # Outside all but RequestContext, so every answer (errors and streams too) carries the CORS
    # headers.
    app.add_middleware(
        Cors,
        configured=container.settings.api.cors_origins,
        publishable=container.keys.allowed_origins,
    )
    # Outermost: every answer, CORS preflights included, has a request id and an access line.
    app.add_middleware(RequestContext, access_log_enabled=container.settings.log.access_log)
    for module, guards in _GUARDS:
        app.include_router(module.router, dependencies=guards)
    app.include_router(oauth.token_router)  # open: the client authenticates itself
    if container.settings.console.enabled:
        install_console(app)  # outside the /v1 schema: signed in by session (api.console)
    return app
