"""Lead capture: a conversation records a visitor's contact details (the CRM path)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from api.auth import conversation_kb, require, require_kb_access
from api.deps import ContainerDep, LimitDep, OffsetDep
from api.schemas.common import Page
from api.schemas.webhooks import LeadCreate, LeadOut

# Guarded per route: recording a lead is a chat use, listing them reads the knowledge base.
router = APIRouter(prefix="/v1", tags=["leads"])


@router.post(
    "/conversations/{conversation_id}/lead",
    response_model=LeadOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require("chat")), Depends(conversation_kb)],
)
def create_lead(conversation_id: str, body: LeadCreate, container: ContainerDep) -> LeadOut:
    """Record the visitor's name, e-mail and question; fires ``lead.created``."""
    conversation = container.conversations.get(conversation_id)
    return LeadOut.of(container.leads.record(conversation, body.to_domain()))


@router.get(
    "/kbs/{kb_id}/leads",
    response_model=Page[LeadOut],
    dependencies=[Depends(require_kb_access)],
)
def list_leads(
    kb_id: str, container: ContainerDep, limit: LimitDep = 50, offset: OffsetDep = 0
) -> Page[LeadOut]:
    """The knowledge base's leads, newest first."""
    container.registry.get_kb(kb_id)
    leads, total = container.leads.list(kb_id, limit, offset)
    return Page(items=[LeadOut.of(lead) for lead in leads], total=total, limit=limit, offset=offset)
