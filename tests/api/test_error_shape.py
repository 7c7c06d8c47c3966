"""Every error path answers in the one JSON error shape and leaves stored data intact."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.pdf_factory import make_pdf

MAX_UPLOAD = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"\x00" * 17 + zlib.compress(b"x")


@pytest.fixture
def small_client(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Any:
    settings = make_settings(tmp_path / "data", ingest__max_upload_bytes=MAX_UPLOAD)
    settings.api.max_json_bytes = 32 * 1024
    container = build_container(settings, embedder=embedder)
    with TestClient(
        create_app(container), raise_server_exceptions=False, headers=admin_headers(container)
    ) as client:
        kb_id = client.post("/v1/kbs", json={"name": "kept"}).json()["id"]
        stored = client.post(
            f"/v1/kbs/{kb_id}/documents", files={"file": ("keep.txt", b"Keep this text safe.")}
        ).json()["document"]
        yield client, kb_id, stored["id"]


def upload(name: str, data: bytes, **form: str) -> Callable[[TestClient, str, str], Response]:
    return lambda c, kb, _doc: c.post(
        f"/v1/kbs/{kb}/documents", files={"file": (name, data)}, data=form
    )


CASES: dict[str, tuple[int, str, Callable[[TestClient, str, str], Response]]] = {
    "unknown kb": (404, "kb_not_found", lambda c, kb, d: c.get("/v1/kbs/kb_nope")),
    "upload to unknown kb": (
        404,
        "kb_not_found",
        lambda c, kb, d: c.post(
            "/v1/kbs/kb_nope/documents", files={"file": ("a.txt", b"some text")}
        ),
    ),
    "query unknown kb": (
        404,
        "kb_not_found",
        lambda c, kb, d: c.post("/v1/kbs/kb_nope/query", json={"question": "q"}),
    ),
    "unknown document": (
        404,
        "document_not_found",
        lambda c, kb, d: c.get(f"/v1/kbs/{kb}/documents/doc_nope"),
    ),
    "chunks of unknown document": (
        404,
        "document_not_found",
        lambda c, kb, d: c.get(f"/v1/kbs/{kb}/documents/doc_nope/chunks"),
    ),
    "delete unknown document": (
        404,
        "document_not_found",
        lambda c, kb, d: c.delete(f"/v1/kbs/{kb}/documents/doc_nope"),
    ),
    "unknown route": (404, "route_not_found", lambda c, kb, d: c.get("/v1/nothing-here")),
    "wrong method": (405, "method_not_allowed", lambda c, kb, d: c.put("/v1/kbs")),
    "duplicate kb name": (
        409,
        "kb_exists",
        lambda c, kb, d: c.post("/v1/kbs", json={"name": "kept"}),
    ),
    "missing field": (422, "validation_failed", lambda c, kb, d: c.post("/v1/kbs", json={})),
    "unknown field": (
        422,
        "validation_failed",
        lambda c, kb, d: c.post("/v1/kbs", json={"name": "x", "evil": 1}),
    ),
    "malformed json": (
        422,
        "validation_failed",
        lambda c, kb, d: c.post(
            "/v1/kbs", content=b"{not json", headers={"content-type": "application/json"}
        ),
    ),
    "bad query parameter": (
        422,
        "validation_failed",
        lambda c, kb, d: c.get("/v1/kbs", params={"limit": "lots"}),
    ),
    "top_k out of range": (
        422,
        "validation_failed",
        lambda c, kb, d: c.post(f"/v1/kbs/{kb}/search", json={"query": "q", "top_k": 5000}),
    ),
    "json text document without text": (
        422,
        "validation_failed",
        lambda c, kb, d: c.post(f"/v1/kbs/{kb}/documents", json={"title": "t"}),
    ),
    "empty file": (422, "empty_document", upload("empty.txt", b"")),
    "whitespace file": (422, "empty_document", upload("blank.md", b" \n\t \n")),
    "corrupt pdf": (422, "corrupt_document", upload("broken.pdf", b"%PDF-1.7\n1 0 obj <<\n")),
    "pdf without text": (422, "no_extractable_text", upload("scan.pdf", make_pdf([""]))),
    "image upload": (415, "unsupported_media_type", upload("photo.txt", PNG)),
    "binary garbage": (415, "unsupported_media_type", upload("data.txt", bytes(range(256)) * 8)),
    "wrong content type": (
        415,
        "unsupported_media_type",
        lambda c, kb, d: c.post(
            f"/v1/kbs/{kb}/documents", content=b"hello", headers={"content-type": "text/plain"}
        ),
    ),
    "oversize upload": (413, "payload_too_large", upload("big.txt", b"a " * MAX_UPLOAD)),
    "oversize json body": (
        413,
        "payload_too_large",
        lambda c, kb, d: c.post(f"/v1/kbs/{kb}/documents", json={"text": "word " * 20_000}),
    ),
    "multipart without file": (
        400,
        "invalid_input",
        lambda c, kb, d: c.post(
            f"/v1/kbs/{kb}/documents", data={"title": "t"}, files={"x": ("a", b"b")}
        ),
    ),
    "bad metadata": (400, "invalid_input", upload("m.txt", b"Some words here.", metadata="[1]")),
    "unknown model": (
        400,
        "invalid_input",
        lambda c, kb, d: c.post(f"/v1/kbs/{kb}/query", json={"question": "q", "model": "gpt-99"}),
    ),
    "openai-compatible without server": (
        503,
        "model_unavailable",
        lambda c, kb, d: c.post(
            f"/v1/kbs/{kb}/query",
            json={"question": "Keep this text", "model": "openai-compatible"},
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_has_the_one_shape_and_nothing_changes(small_client: Any, case: str) -> None:
    client, kb_id, doc_id = small_client
    status, code, call = CASES[case]
    before = client.get(f"/v1/kbs/{kb_id}/documents").json()

    response = call(client, kb_id, doc_id)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "code", "detail"} <= set(body)
    assert body["status"] == status and body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert client.get(f"/v1/kbs/{kb_id}/documents").json() == before
    chunks = client.get(f"/v1/kbs/{kb_id}/documents/{doc_id}/chunks").json()
    assert chunks[0]["text"] == "Keep this text safe."


def test_unexpected_errors_use_the_shape_without_internals(small_client: Any) -> None:
    client, kb_id, _ = small_client
    container = client.app.state.container

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal path /etc/shadow")

    container.retriever.search = boom
    response = client.post(f"/v1/kbs/{kb_id}/search", json={"query": "q"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "/etc/shadow" not in response.text
