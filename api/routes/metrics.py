"""Prometheus scrape endpoint (``metrics`` scope unless KB_SECURITY__METRICS_PUBLIC is set)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.auth import require
from api.deps import get_container
from api.middleware.metrics import Metrics

router = APIRouter(tags=["operations"])
_require_metrics = require("metrics")


def metrics_access(request: Request) -> None:
    """Admit keys with the ``metrics`` scope, or everyone when metrics are public."""
    if not get_container(request).settings.security.metrics_public:
        _require_metrics(request)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "Prometheus text."}},
)
async def metrics(request: Request) -> Response:
    """Every metric in the Prometheus text exposition format."""
    exposed: Metrics = request.app.state.metrics
    accept = request.headers.get("accept", "")
    # The inventory queries the registry: off the event loop.
    body, media_type = await run_in_threadpool(exposed.render, accept)
    return Response(body, media_type=media_type)
