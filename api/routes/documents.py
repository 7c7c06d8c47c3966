"""Document routes: upload (multipart file or JSON text), list, get, chunks, delete."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import CatalogDep, IngestionDep, LimitDep, OffsetDep, SettingsDep, UploadsDep
from api.schemas.common import ChunkOut, DocumentOut, IngestOut, Page, TextDocumentIn
from api.schemas.jobs import JobOut
from api.uploads import read_upload

router = APIRouter(prefix="/v1/kbs/{kb_id}/documents", tags=["documents"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "title": {"type": "string"},
                        "source": {"type": "string"},
                        "metadata": {"type": "string", "description": "JSON object of tags"},
                    },
                }
            },
            "application/json": {"schema": TextDocumentIn.model_json_schema()},
        },
    }
}


@router.post(
    "",
    response_model=IngestOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {"model": IngestOut, "description": "Updated or unchanged"},
        202: {"model": JobOut, "description": "Queued (wait=false): follow GET /v1/jobs/{id}"},
    },
)
async def upload_document(
    kb_id: str,
    request: Request,
    ingestion: IngestionDep,
    settings: SettingsDep,
    uploads: UploadsDep,
    wait: bool = Query(
        True,
        description="false: answer 202 with a job at once and ingest in the background (a "
        "worker, with a broker); the job's counts then name the document and its outcome.",
    ),
) -> JSONResponse:
    """Add a document: a multipart ``file`` (PDF, HTML, Markdown, text, DOCX) or JSON text.

    The same source with the same content is reported ``unchanged`` and not re-embedded; new
    content for a source replaces its old version.
    """
    raw = await read_upload(request, settings.ingest.max_upload_bytes)
    if not wait:
        job = await run_in_threadpool(uploads.submit, kb_id, raw)  # a blob insert: off the loop
        queued = JobOut.of(job).model_dump(mode="json")
        return JSONResponse(queued, status_code=status.HTTP_202_ACCEPTED)
    # On ingestion's low-priority threads (kb.runtime.priority); shielded, so an upload that arrived
    # completes even if the client stops waiting for the answer.
    result = await asyncio.shield(asyncio.wrap_future(ingestion.submit(kb_id, raw)))
    body = IngestOut(outcome=result.outcome, document=DocumentOut.of(result.document))
    code = status.HTTP_201_CREATED if result.outcome == "created" else status.HTTP_200_OK
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get("", response_model=Page[DocumentOut])
def list_documents(
    kb_id: str, catalog: CatalogDep, limit: LimitDep = 100, offset: OffsetDep = 0
) -> Page[DocumentOut]:
    """List a knowledge base's documents, oldest first."""
    items, total = catalog.list_documents(kb_id, limit, offset)
    return Page(items=[DocumentOut.of(d) for d in items], total=total, limit=limit, offset=offset)


@router.get("/{doc_id}", response_model=DocumentOut)
def get_document(kb_id: str, doc_id: str, catalog: CatalogDep) -> DocumentOut:
    """Get one document."""
    return DocumentOut.of(catalog.get_document(kb_id, doc_id))


@router.get("/{doc_id}/chunks", response_model=list[ChunkOut])
def document_chunks(kb_id: str, doc_id: str, catalog: CatalogDep) -> list[ChunkOut]:
    """The passages of a document's current version, in order."""
    return [ChunkOut.of(c) for c in catalog.document_chunks(kb_id, doc_id)]


@router.delete("/{doc_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(kb_id: str, doc_id: str, ingestion: IngestionDep) -> Response:
    """Delete a document and its passages."""
    ingestion.delete_document(kb_id, doc_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
