"""The one error body, as declared in the OpenAPI schema for every route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    """Every error: RFC 9457 problem details plus a stable ``code`` (``application/problem+json``).

    Some errors add fields of their own (``errors`` for validation failures, ``limit_bytes`` for
    bodies over a limit, ``known_models`` for an unknown model, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URL naming the error: https://kb-engine.dev/errors/CODE.")
    title: str = Field(description="A short, stable summary of the error family.")
    status: int = Field(description="The HTTP status code.")
    code: str = Field(description="A stable machine-readable code, e.g. 'kb_not_found'.")
    detail: str = Field(description="What went wrong with this request, for a person.")
    request_id: str | None = Field(
        None, description="The request's X-Request-ID, to quote when reporting a problem."
    )
