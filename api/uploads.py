"""Upload bodies read into sources: a multipart ``file`` with optional ``title``, ``source``
and ``metadata`` fields, or a JSON ``TextDocumentIn``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.schemas.common import TextDocumentIn
from ingest.sources import RawSource, safe_filename
from kb.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, ValidationFailed


async def read_upload(request: Request, max_bytes: int) -> RawSource:
    """The source an upload request carries, by its content type (UnsupportedMediaType for
    any other); a file over ``max_bytes`` is refused with PayloadTooLarge."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _raw_from_form(request, max_bytes)
    if content_type.startswith("application/json"):
        return _raw_from_json(await request.body())
    raise UnsupportedMediaType(
        "Send a multipart/form-data upload with a 'file' field, or application/json "
        "with {title, text}."
    )


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
