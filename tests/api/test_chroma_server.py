"""Chroma in server mode (``KB_STORE__CHROMA_HOST``): a real ``chroma run`` on 127.0.0.1 holds the
vectors, this service the registry and the BM25 index with the chunk texts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.chroma_server import NOT_INSTALLED, available, chroma


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``chroma run`` on a free 127.0.0.1 port; yields the port and its data directory."""
    if not available():
        pytest.skip(NOT_INSTALLED)
    with chroma(tmp_path) as server:
        yield server.port, server.data


def test_documents_searches_and_deletes_through_a_chroma_server(
    chroma_server: tuple[int, Path], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    port, server_data = chroma_server
    settings = make_settings(
        tmp_path / "data", store__chroma_host="127.0.0.1", store__chroma_port=port
    )
    container = build_container(settings, embedder=embedder)
    try:
        with TestClient(create_app(container), headers=admin_headers(container)) as client:
            kb_id = client.post("/v1/kbs", json={"name": "remote"}).json()["id"]
            docs = {
                name: client.post(
                    f"/v1/kbs/{kb_id}/documents", files={"file": (name, text.encode())}
                ).json()["document"]["id"]
                for name, text in {
                    "hours.md": "# Opening hours\n\nThe office opens at 8 am on weekdays.",
                    "tax.txt": "The corporate tax return is due in April.",
                }.items()
            }
            hits = client.post(f"/v1/kbs/{kb_id}/search", json={"query": "when does it open"})
            top = hits.json()["results"][0]
            assert top["source"] == "hours.md" and "8 am on weekdays" in top["text"]
            chunks = client.get(f"/v1/kbs/{kb_id}/documents/{docs['hours.md']}/chunks").json()
            assert [c["text"] for c in chunks] == [
                "# Opening hours\n\nThe office opens at 8 am on weekdays."
            ]

            replaced = client.post(
                f"/v1/kbs/{kb_id}/documents",
                files={"file": ("hours.md", b"# Opening hours\n\nThe office opens at 9 am.")},
            )
            assert replaced.json()["outcome"] == "updated"
            answer = client.post(
                f"/v1/kbs/{kb_id}/query", json={"question": "When does the office open?"}
            ).json()
            assert "9 am" in answer["answer"] and "8 am" not in answer["answer"]

            assert client.delete(f"/v1/kbs/{kb_id}/documents/{docs['tax.txt']}").status_code == 204
            left = client.post(f"/v1/kbs/{kb_id}/search", json={"query": "tax return"}).json()
            assert "tax.txt" not in {r["source"] for r in left["results"]}
    finally:
        container.close()
    # The vectors went to the server; nothing was written to an embedded Chroma.
    assert (server_data / "chroma.sqlite3").exists()
    assert not (tmp_path / "data" / "chroma").exists()
