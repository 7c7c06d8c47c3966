"""Document routes: upload (multipart file or JSON text), list, get, chunks, delete."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import CatalogDep, IngestionDep, LimitDep, OffsetDep, SettingsDep
from api.schemas.common import ChunkOut, DocumentOut, IngestOut, Page, TextDocumentIn
from ingest.sources import RawSource, safe_filename
from kb.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

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
    responses={200: {"model": IngestOut, "description": "Updated or unchanged"}},
)
async def upload_document(
    kb_id: str, request: Request, ingestion: IngestionDep, settings: SettingsDep
) -> JSONResponse:
    """Add a document: a multipart ``file`` (PDF, HTML, Markdown, text, DOCX) or JSON text.

    The same source with the same content is reported ``unchanged`` and not re-embedded; new
    content for a source replaces its old version.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        raw = await _raw_from_form(request, settings.ingest.max_upload_bytes)
    elif content_type.startswith("application/json"):
        raw = _raw_from_json(await request.body())
    else:
        raise UnsupportedMediaType(
            "Send a multipart/form-data upload with a 'file' field, or application/json "
            "with {title, text}."
        )
    # On ingestion's low-priority threads (kb.runtime.priority); shielded, so an upload that arrived
    # completes even if the client stops waiting for the answer.
    result = await asyncio.shield(asyncio.wrap_future(ingestion.submit(kb_id, raw)))
    body = IngestOut(outcome=result.outcome, document=DocumentOut.of(result.document))
    code = status.HTTP_201_CREATED if result.outcome == "created" else status.HTTP_200_OK
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


async def _raw_from_form(request: Request, max_bytes: int) -> RawSource:
    form = await request.form(max_files=1, max_fields=20)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("The multipart upload needs a 'file' field holding the document.")
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The upload is over the limit of {max_bytes} bytes.", limit_bytes=max_bytes
        )
    filename = safe_filename(upload.filename)
    title = _form_text(form.get("title"))
    source = _form_text(form.get("source")) or filename or _anonymous_source(data)
    return RawSource(
        data=data,
        source=source,
        filename=filename,
        title=title,
        declared_type=upload.content_type,
        metadata=_parse_metadata(_form_text(form.get("metadata"))),
    )


def _raw_from_json(body: bytes) -> RawSource:
    try:
        doc = TextDocumentIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        raise ValidationFailed(
            f"{'.'.join(errors[0]['loc']) or 'body'}: {errors[0]['msg']}", errors=errors
        ) from exc
    data = doc.text.encode("utf-8")
    source = doc.source or doc.title or _anonymous_source(data)
    return RawSource(
        data=data,
        source=source,
        title=doc.title,
        declared_type="text/markdown",
        metadata=dict(doc.metadata),
    )


def _form_text(value: Any) -> str | None:
    if value is None or isinstance(value, UploadFile):
        return None
    text = str(value).strip()
    return text[:2048] or None


def _anonymous_source(data: bytes) -> str:
    return f"upload:{hashlib.sha256(data).hexdigest()[:16]}"


def _parse_metadata(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInput("'metadata' must be a JSON object.") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(v, str | int | float | bool) for v in parsed.values()
    ):
        raise InvalidInput("'metadata' must be a JSON object of strings, numbers or booleans.")
    return parsed


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
