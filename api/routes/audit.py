"""The audit log of administrative actions (admin scope, unrestricted keys only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AuditDep, LimitDep, OffsetDep
from api.schemas.common import Page
from kb.db.audit import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    """One administrative action; request bodies are never recorded."""

    id: int
    at: datetime
    actor: str = Field(description="Key prefix, OAuth client id, 'cli' or 'anonymous'.")
    action: str = Field(description="e.g. key.create, kb.update, document.delete.")
    method: str = Field(description="HTTP method; empty for CLI actions.")
    route: str = Field(description="Route template, e.g. /v1/kbs/{kb_id}.")
    target: dict[str, str] = Field(description="Path parameters: kb_id, doc_id, prefix...")
    status: int = Field(description="HTTP status the request was answered with.")
    request_id: str | None
    client: str | None = Field(description="Client address.")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        """The response form of ``entry``."""
        return cls(**vars(entry))


@router.get("", response_model=Page[AuditEntryOut])
def list_audit(
    audit: AuditDep,
    limit: LimitDep = 100,
    offset: OffsetDep = 0,
    actor: Annotated[
        str | None, Query(max_length=200, description="Key prefix, client id, cli, anonymous.")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=100, description="e.g. key.create, kb.delete.")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601; entries at or after it (UTC if no zone).")
    ] = None,
) -> Page[AuditEntryOut]:
    """Recorded administrative actions, newest first."""
    items, total = audit.list(limit, offset, actor, action, since)
    return Page(items=[AuditEntryOut.of(e) for e in items], total=total, limit=limit, offset=offset)
