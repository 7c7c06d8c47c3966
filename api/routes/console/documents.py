"""Console pages of documents: upload (one request per file, from console.js), the list with
filter, search and pages, a document's passages, deleting and re-ingesting one."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, KbAccessDep, WriterDep
from api.deps import CatalogDep, CrawlsDep, IngestionDep, SettingsDep
from api.schemas.common import DocumentOut, IngestOut
from api.uploads import read_upload
from kb.models import Document

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 25
# Searching and filtering read this many documents of the knowledge base at most: the
# registry pages documents but does not search them.
SEARCH_WINDOW = 10_000
STATUSES = ("", "ready", "failed", "processing")


def _matches(document: Document, q: str, status: str) -> bool:
    if status and document.status != status:
        return False
    needle = q.casefold()
    return not needle or needle in document.title.casefold() or needle in document.source.casefold()


@router.get("/kbs/{kb_id}/documents")
def documents_page(
    request: Request,
    kb_id: str,
    caller: KbAccessDep,
    catalog: CatalogDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The knowledge base's documents, a page at a time, and the upload area."""
    kb = catalog.get_kb(kb_id)
    offset = (page - 1) * PAGE_SIZE
    if q or status:
        everything, _total = catalog.list_documents(kb.id, SEARCH_WINDOW, 0)
        found = [d for d in everything if _matches(d, q.strip(), status)]
        items, total = found[offset : offset + PAGE_SIZE], len(found)
    else:
        items, total = catalog.list_documents(kb.id, PAGE_SIZE, offset)
    return render(
        request,
        "documents.html",
        {
            "kb": kb,
            "tab": "documents",
            "items": items,
            "total": total,
            "q": q,
            "status": status,
            "statuses": STATUSES,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "may_write": caller.may("kb:write"),
        },
    )


@router.post("/api/kbs/{kb_id}/documents")
async def upload(
    kb_id: str,
    request: Request,
    caller: WriterDep,
    ingestion: IngestionDep,
    settings: SettingsDep,
) -> JSONResponse:
    """One uploaded file through the ingestion service, as POST /v1/kbs/{kb_id}/documents."""
    raw = await read_upload(request, settings.ingest.max_upload_bytes)
    result = await asyncio.shield(asyncio.wrap_future(ingestion.submit(kb_id, raw)))
    body = IngestOut(outcome=result.outcome, document=DocumentOut.of(result.document))
    return JSONResponse(body.model_dump(mode="json"), status_code=200)


@router.get("/kbs/{kb_id}/documents/{doc_id}")
def document_page(
    request: Request, kb_id: str, doc_id: str, caller: KbAccessDep, catalog: CatalogDep
) -> Response:
    """One document: its state and its passages, in order."""
    kb = catalog.get_kb(kb_id)
    document = catalog.get_document(kb.id, doc_id)
    chunks = catalog.document_chunks(kb.id, doc_id) if document.status == "ready" else []
    return render(
        request,
        "document.html",
        {
            "kb": kb,
            "tab": "documents",
            "document": document,
            "chunks": chunks,
            "web_page": document.source.startswith(("http://", "https://")),
            "may_write": caller.may("kb:write"),
        },
    )


@router.post("/kbs/{kb_id}/documents/{doc_id}/delete")
def delete_document(
    kb_id: str, doc_id: str, caller: KbAccessDep, ingestion: IngestionDep
) -> Response:
    """Delete the document and its passages."""
    ingestion.delete_document(kb_id, doc_id)
    return RedirectResponse(f"{PREFIX}/kbs/{kb_id}/documents?deleted=1", status_code=303)


@router.post("/kbs/{kb_id}/documents/{doc_id}/reingest")
def reingest(
    kb_id: str, doc_id: str, caller: KbAccessDep, catalog: CatalogDep, crawls: CrawlsDep
) -> Response:
    """Fetch a web page again (a one-page crawl: unchanged content is not re-embedded).

    Uploaded files are re-ingested by uploading them again: the engine keeps their passages,
    not the original file."""
    document = catalog.get_document(kb_id, doc_id)
    job = crawls.start(kb_id, [document.source], max_pages=1, max_depth=0, use_sitemaps=False)
    return RedirectResponse(f"{PREFIX}/kbs/{kb_id}/crawls?started={job.id}", status_code=303)
