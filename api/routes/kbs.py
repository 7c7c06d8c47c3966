"""Knowledge base routes, and re-indexing one with another embedding model."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from api.auth import unrestricted
from api.deps import CatalogDep, ContainerDep, LimitDep, OffsetDep, ReachableKbsDep
from api.schemas.common import KnowledgeBaseCreate, KnowledgeBaseOut, KnowledgeBaseUpdate, Page
from api.schemas.reindex import ReindexCreate, ReindexJobList, ReindexJobOut
from kb.catalog import Catalog
from kb.db.base import UNSET
from kb.models import KnowledgeBase

router = APIRouter(prefix="/v1/kbs", tags=["knowledge bases"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=KnowledgeBaseOut,
    dependencies=[Depends(unrestricted)],
)
def create_kb(body: KnowledgeBaseCreate, catalog: CatalogDep) -> KnowledgeBaseOut:
    """Create a knowledge base, its index filled by ``embedding_model`` (400 for a bundled
    name this server does not ship)."""
    kb = catalog.create_kb(
        body.name, body.description, body.default_model, body.embedding_model, body.verification
    )
    return _out(catalog, kb)


def _out(catalog: Catalog, kb: KnowledgeBase) -> KnowledgeBaseOut:
    return KnowledgeBaseOut.of(kb, catalog.index_of(kb.id))


@router.get("", response_model=Page[KnowledgeBaseOut])
def list_kbs(
    catalog: CatalogDep, reachable: ReachableKbsDep, limit: LimitDep = 100, offset: OffsetDep = 0
) -> Page[KnowledgeBaseOut]:
    """List the knowledge bases the caller's key may reach, oldest first."""
    items, total = catalog.list_kbs(limit, offset, reachable)
    return Page(items=[_out(catalog, k) for k in items], total=total, limit=limit, offset=offset)


@router.get("/{kb_id}", response_model=KnowledgeBaseOut)
def get_kb(kb_id: str, catalog: CatalogDep) -> KnowledgeBaseOut:
    """Get one knowledge base."""
    return _out(catalog, catalog.get_kb(kb_id))


@router.patch("/{kb_id}", response_model=KnowledgeBaseOut)
def update_kb(kb_id: str, body: KnowledgeBaseUpdate, catalog: CatalogDep) -> KnowledgeBaseOut:
    """Rename, re-describe, or change the default model or verification policy of a
    knowledge base."""
    # An absent field leaves it alone; an explicit null clears it.
    given = body.model_fields_set
    model = body.default_model if "default_model" in given else UNSET
    policy = body.verification if "verification" in given else UNSET
    return _out(catalog, catalog.update_kb(kb_id, body.name, body.description, model, policy))


@router.delete("/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_kb(kb_id: str, catalog: CatalogDep) -> Response:
    """Delete a knowledge base with all its documents."""
    catalog.delete_kb(kb_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{kb_id}/reindex", response_model=ReindexJobOut, status_code=status.HTTP_202_ACCEPTED)
def start_reindex(kb_id: str, body: ReindexCreate, container: ContainerDep) -> ReindexJobOut:
    """Re-index the knowledge base with another embedding model; answers at once.

    The old index keeps serving searches and answers until the new one is complete, then
    the knowledge base switches to it at once. 409 ``reindex_in_progress`` while a job runs.
    """
    return ReindexJobOut.of(container.reindex.start(kb_id, body.embedding_model))


@router.get("/{kb_id}/reindex", response_model=ReindexJobList)
def list_reindex_jobs(kb_id: str, container: ContainerDep) -> ReindexJobList:
    """The knowledge base's re-index jobs, newest first."""
    jobs = container.reindex.list_jobs(kb_id)
    return ReindexJobList(items=[ReindexJobOut.of(job) for job in jobs])


@router.get("/{kb_id}/reindex/{job_id}", response_model=ReindexJobOut)
def get_reindex_job(kb_id: str, job_id: str, container: ContainerDep) -> ReindexJobOut:
    """A re-index job's status and progress (``done`` of ``total`` chunks)."""
    return ReindexJobOut.of(container.reindex.get(kb_id, job_id))


@router.delete(
    "/{kb_id}/reindex/{job_id}", response_model=ReindexJobOut, status_code=status.HTTP_202_ACCEPTED
)
def cancel_reindex_job(kb_id: str, job_id: str, container: ContainerDep) -> ReindexJobOut:
    """Cancel a running re-index; the old index stays and the new one is dropped."""
    return ReindexJobOut.of(container.reindex.cancel(kb_id, job_id))
