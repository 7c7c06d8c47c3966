"""Knowledge base routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from api.auth import unrestricted
from api.deps import CatalogDep, LimitDep, OffsetDep, ReachableKbsDep
from api.schemas.common import KnowledgeBaseCreate, KnowledgeBaseOut, KnowledgeBaseUpdate, Page
from kb.db.base import UNSET

router = APIRouter(prefix="/v1/kbs", tags=["knowledge bases"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=KnowledgeBaseOut,
    dependencies=[Depends(unrestricted)],
)
def create_kb(body: KnowledgeBaseCreate, catalog: CatalogDep) -> KnowledgeBaseOut:
    """Create a knowledge base."""
    return KnowledgeBaseOut.of(catalog.create_kb(body.name, body.description, body.default_model))


@router.get("", response_model=Page[KnowledgeBaseOut])
def list_kbs(
    catalog: CatalogDep, reachable: ReachableKbsDep, limit: LimitDep = 100, offset: OffsetDep = 0
) -> Page[KnowledgeBaseOut]:
    """List the knowledge bases the caller's key may reach, oldest first."""
    items, total = catalog.list_kbs(limit, offset, reachable)
    return Page(
        items=[KnowledgeBaseOut.of(k) for k in items], total=total, limit=limit, offset=offset
    )


@router.get("/{kb_id}", response_model=KnowledgeBaseOut)
def get_kb(kb_id: str, catalog: CatalogDep) -> KnowledgeBaseOut:
    """Get one knowledge base."""
    return KnowledgeBaseOut.of(catalog.get_kb(kb_id))


@router.patch("/{kb_id}", response_model=KnowledgeBaseOut)
def update_kb(kb_id: str, body: KnowledgeBaseUpdate, catalog: CatalogDep) -> KnowledgeBaseOut:
    """Rename, re-describe or change the default model of a knowledge base."""
    # An absent default_model leaves it alone; an explicit null clears it.
    model = body.default_model if "default_model" in body.model_fields_set else UNSET
    return KnowledgeBaseOut.of(catalog.update_kb(kb_id, body.name, body.description, model))


@router.delete("/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_kb(kb_id: str, catalog: CatalogDep) -> Response:
    """Delete a knowledge base with all its documents."""
    catalog.delete_kb(kb_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
