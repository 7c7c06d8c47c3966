"""JSON bodies: depth, size and string caps, malformed bodies, media types, per-field bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from api.middleware.json_limits import JsonCaps, parse_json
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import JsonTooComplex, ValidationFailed
from tests.conftest import admin_headers, make_settings

CAPS = JsonCaps(max_depth=4, max_string_chars=10, max_items=20)
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 100_000 + b"]" * 100_000, JsonTooComplex),
        (b'{"a": [[[[1]]]]}', JsonTooComplex),
        (b'["' + b"x" * 11 + b'"]', JsonTooComplex),
        (b'{"' + b"k" * 11 + b'": 1}', JsonTooComplex),
        (b"[" + b",".join([b"1"] * 20) + b"]", JsonTooComplex),
        (b'{"a": 1, "a": 2}', ValidationFailed),
        (b"[NaN]", ValidationFailed),
        (b"[Infinity]", ValidationFailed),
        (b'{"a": "\xff"}', ValidationFailed),
        (b"{not json", ValidationFailed),
        (b"1" * 5000, ValidationFailed),  # over Python's int-digit limit
    ],
    ids=[
        "runaway nesting",
        "too deep",
        "long string",
        "long key",
        "too many values",
        "duplicate key",
        "NaN",
        "Infinity",
        "invalid utf-8",
        "malformed",
        "huge integer",
    ],
)
def test_parse_json_refuses(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_json(body, CAPS)


def test_parse_json_accepts_what_is_within_the_caps() -> None:
    body = b'{"a": [[["0123456789"]]], "b": [1, 2.5, true, null]}'
    assert parse_json(body, CAPS) == {"a": [[["0123456789"]]], "b": [1, 2.5, True, None]}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[tuple[TestClient, str]]:
    settings = make_settings(tmp_path_factory.mktemp("json") / "data")
    settings.api.max_json_depth = 8
    settings.api.max_json_string_chars = 200_000
    settings.api.max_json_items = 1000
    container = build_container(settings, embedder=embedder)
    app = create_app(container)
    with TestClient(app, raise_server_exceptions=False, headers=admin_headers(container)) as c:
        kb_id = c.post("/v1/kbs", json={"name": "limits"}).json()["id"]
        yield c, kb_id


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


def test_caps_come_from_the_settings(client: tuple[TestClient, str]) -> None:
    c, kb_id = client
    deep: Any = "x"
    for _ in range(9):
        deep = [deep]
    body = _problem(
        c.put("/v1/users/u1/profile", json={"attributes": {"a": deep}}), 400, "json_too_complex"
    )
    assert body["max_depth"] == 8
    _problem(c.post("/v1/kbs", json={"name": "n" * 200_001}), 400, "json_too_complex")
    _problem(
        c.post(
            f"/v1/kbs/{kb_id}/search",
            json={"query": "q", "filters": {"document_ids": ["d"] * 1000}},
        ),
        400,
        "json_too_complex",
    )


def test_a_long_text_document_within_the_caps_is_ingested(client: tuple[TestClient, str]) -> None:
    c, kb_id = client
    text = "Long documents arrive as JSON text. " * 5000  # 180,000 characters
    response = c.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Long", "text": text})
    assert response.status_code == 201, response.text
    assert response.json()["document"]["chunk_count"] > 10


def test_deep_nesting_is_refused_before_it_reaches_a_free_form_field(
    client: tuple[TestClient, str],
) -> None:
    """Regression: 900 nested arrays in profile attributes were a 500 (serialisation depth)."""
    c, kb_id = client
    raw = b'{"attributes": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}"
    profile = f"/v1/users/u2/profile?kb_id={kb_id}"
    _problem(c.put(profile, content=raw, headers=JSON), 400, "json_too_complex")
    assert c.get(profile).json()["attributes"] == {}


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ({"content-type": "text/plain"}, b'{"name": "plain"}'),
        ({"content-type": "application/xml"}, b"<kb><name>x</name></kb>"),
        ({}, b'{"name": "no type"}'),
    ],
    ids=["text/plain", "xml", "no content type"],
)
def test_bodies_that_are_not_json_are_415(
    client: tuple[TestClient, str], headers: dict[str, str], content: bytes
) -> None:
    c, _ = client
    _problem(c.post("/v1/kbs", content=content, headers=headers), 415, "unsupported_media_type")


def test_a_json_suffix_media_type_is_json(client: tuple[TestClient, str]) -> None:
    c, _ = client
    response = c.post(
        "/v1/kbs",
        content=json.dumps({"name": "suffix"}),
        headers={"content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 201, response.text


FIELD_BOUNDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "metadata with too many keys": (
        "post",
        "/v1/kbs/{kb}/documents",
        {"text": "t", "metadata": {f"k{i}": i for i in range(101)}},
    ),
    "metadata value too long": (
        "post",
        "/v1/kbs/{kb}/documents",
        {"text": "t", "metadata": {"k": "v" * 1001}},
    ),
    "filter tag key too long": (
        "post",
        "/v1/kbs/{kb}/search",
        {"query": "q", "filters": {"tags": {"k" * 101: "v"}}},
    ),
    "filter source too long": (
        "post",
        "/v1/kbs/{kb}/search",
        {"query": "q", "filters": {"sources": ["s" * 2049]}},
    ),
    "profile attribute too large": (
        "put",
        "/v1/users/u3/profile?kb_id={kb}",
        {"attributes": {"blob": "x" * 70_000}},
    ),
    "conversation variables too large": (
        "put",
        "/v1/conversations/conv_0/variables",
        {"variables": {"blob": "x" * 70_000}},
    ),
    "action variables with too many keys": (
        "post",
        "/v1/messages/send",
        {
            "kb_id": "{kb}",
            "user_id": "u",
            "action": {
                "type": "button",
                "payload": "p",
                "variables": {str(i): i for i in range(101)},
            },
        },
    ),
    "profile with too many attributes": (
        "put",
        "/v1/users/u3/profile?kb_id={kb}",
        {"attributes": {f"a{i}": 1 for i in range(101)}},
    ),
    "conversation id too long": (
        "post",
        "/v1/messages/send",
        {"kb_id": "{kb}", "user_id": "u", "text": "hi", "conversation_id": "c" * 201},
    ),
    "chat message too long": (
        "post",
        "/v1/chat/completions",
        {"model": "{kb}", "messages": [{"role": "user", "content": "x" * 100_001}]},
    ),
    "chat role too long": (
        "post",
        "/v1/chat/completions",
        {"model": "{kb}", "messages": [{"role": "r" * 51, "content": "hi"}]},
    ),
    "crawl pattern too long": (
        "post",
        "/v1/kbs/{kb}/crawls",
        {"start_urls": ["https://example.com/"], "include": ["a" * 1001]},
    ),
    "crawl depth out of range": (
        "post",
        "/v1/kbs/{kb}/crawls",
        {"start_urls": ["https://example.com/"], "max_depth": 10**6},
    ),
}


@pytest.mark.parametrize("case", list(FIELD_BOUNDS))
def test_every_field_is_bounded(client: tuple[TestClient, str], case: str) -> None:
    c, kb_id = client
    method, path, body = FIELD_BOUNDS[case]
    payload = json.loads(json.dumps(body).replace("{kb}", kb_id))
    response = c.request(method.upper(), path.replace("{kb}", kb_id), json=payload)
    _problem(response, 422, "validation_failed")
