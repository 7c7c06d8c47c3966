"""Analytics of a knowledge base's conversations, and their export for a period (kb:read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import AnalyticsDep, ExporterDep
from api.schemas.analytics import AnalyticsOut
from kb.db.analytics import Period

# Guarded by `kb:read` in create_app (admin implies it; a restricted key reaches its own
# knowledge bases only, checked on the kb_id in the path).
router = APIRouter(prefix="/v1/kbs/{kb_id}", tags=["analytics"])
DEFAULT_DAYS = 30

FromQuery = Annotated[
    datetime | None,
    Query(
        alias="from",
        description="ISO 8601 start, included (UTC when it has no zone); default: 30 days "
        "before 'to'.",
    ),
]
ToQuery = Annotated[
    datetime | None,
    Query(
        alias="to", description="ISO 8601 end, excluded (UTC when it has no zone); default: now."
    ),
]
_EXPORT_RESPONSE = {
    200: {
        "content": {"application/json": {}, "text/csv": {}},
        "description": "The conversations and their messages, streamed.",
    }
}


def _period(start: datetime | None, end: datetime | None) -> Period:
    end = end or datetime.now(UTC)
    return Period(start or end - timedelta(days=DEFAULT_DAYS), end)


@router.get("/analytics", response_model=AnalyticsOut)
def analytics(
    kb_id: str,
    service: AnalyticsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    granularity: Annotated[
        Literal["day", "week", "month"], Query(description="Buckets of the time series (UTC).")
    ] = "day",
) -> AnalyticsOut:
    """Conversations, messages, visitors, answered and not-found rates, handoffs, feedback,
    answer latency, cited and never-cited documents, top (unanswered) questions grouped by
    meaning, leads, and a time series, computed from the stored conversations."""
    return AnalyticsOut.of(service.report(kb_id, _period(start, end), granularity))


@router.get(
    "/conversations/export",
    response_class=StreamingResponse,
    responses=_EXPORT_RESPONSE,  # type: ignore[arg-type]
)
def export_conversations(
    kb_id: str,
    service: AnalyticsDep,
    exporter: ExporterDep,
    start: FromQuery = None,
    end: ToQuery = None,
    format_: Annotated[Literal["csv", "json"], Query(alias="format")] = "json",
) -> StreamingResponse:
    """The conversations started in the period with their messages (and their feedback), as
    JSON or CSV (one row per message; cells that would start a formula are prefixed with ')."""
    found = service.resolve(kb_id)
    period = _period(start, end)
    media = "text/csv; charset=utf-8" if format_ == "csv" else "application/json"
    name = f"conversations-{found}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{format_}"
    return StreamingResponse(
        exporter.stream(found, period, format_),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
