"""What answering a question reads from the registry: the knowledge base once, no sums."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.container import Container


@pytest.fixture
def kb_id(client: TestClient) -> str:
    kb = client.post("/v1/kbs", json={"name": "office", "default_model": "extractive"}).json()
    client.post(
        f"/v1/kbs/{kb['id']}/documents",
        json={"title": "Parking", "text": "Staff park on level two of the garage."},
    )
    return str(kb["id"])


@contextmanager
def _statements(container: Container) -> Iterator[list[str]]:
    """The SQL statements run on the registry's engine inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    engine = container.registry.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _kb_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "from knowledge_bases" in s]


def _document_sums(statements: list[str]) -> list[str]:
    return [s for s in statements if "from documents" in s and ("count(" in s or "sum(" in s)]


@pytest.mark.parametrize("stream", [False, True])
def test_a_query_reads_its_knowledge_base_once_without_counting_documents(
    client: TestClient, container: Container, kb_id: str, stream: bool
) -> None:
    """Regression: /query read the knowledge base twice, once with a COUNT/SUM over all its
    documents just to learn its default model."""
    body = {"question": "Where do staff park?", "stream": stream}
    with _statements(container) as statements:
        response = client.post(f"/v1/kbs/{kb_id}/query", json=body)
    assert response.status_code == 200
    assert "level two" in response.text
    assert len(_kb_reads(statements)) == 1, statements
    assert _document_sums(statements) == []


def test_a_chat_completion_reads_its_knowledge_base_once(
    client: TestClient, container: Container, kb_id: str
) -> None:
    """Regression: a chat completion read the knowledge base with its document counts three
    times (resolving its name, the rewriter's model, the answering model) and once more to
    search it."""
    body = {"model": kb_id, "messages": [{"role": "user", "content": "Where do staff park?"}]}
    with _statements(container) as statements:
        response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert "level two" in response.text
    assert len(_kb_reads(statements)) == 1, statements
    assert _document_sums(statements) == []


def test_a_conversation_message_does_not_count_documents(
    client: TestClient, container: Container, kb_id: str
) -> None:
    """Regression: a conversation message summed over the knowledge base's documents three
    times to resolve it and learn its default model."""
    body = {"kb_id": kb_id, "user_id": "u1", "text": "Where do staff park?"}
    with _statements(container) as statements:
        response = client.post("/v1/messages/send", json=body)
    assert response.status_code == 200, response.text
    assert "level two" in response.text
    assert _document_sums(statements) == []
