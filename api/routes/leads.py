"""Lead capture: a conversation records a visitor's contact details (the CRM path)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from api.auth import require, require_kb_access
from api.deps import LeadsDep, LimitDep, OffsetDep
from api.schemas.common import Page
from api.schemas.webhooks import LeadCreate, LeadOut

# Guarded per route: recording a lead is a chat use, listing them reads the knowledge base.
router = APIRouter(prefix="/v1", tags=["leads"])


@router.post(
    "/conversations/{conversation_id}/lead",
    response_model=LeadOut,
    status_code=status.HTTP_201_CREATED,
    # `require` checks the conversation in the path (knowledge base, visitor token).
    dependencies=[Depends(require("chat"))],
)
def create_lead(conversation_id: str, body: LeadCreate, leads: LeadsDep) -> LeadOut:
    """Record the visitor's name, e-mail and question; fires ``lead.created``."""
    return LeadOut.of(leads.record(conversation_id, body.to_domain()))


@router.get(
    "/kbs/{kb_id}/leads",
    response_model=Page[LeadOut],
    dependencies=[Depends(require_kb_access)],
)
def list_leads(
    kb_id: str, leads: LeadsDep, limit: LimitDep = 50, offset: OffsetDep = 0
) -> Page[LeadOut]:
    """The knowledge base's leads, newest first."""
    items, total = leads.list(kb_id, limit, offset)
    return Page(items=[LeadOut.of(lead) for lead in items], total=total, limit=limit, offset=offset)
