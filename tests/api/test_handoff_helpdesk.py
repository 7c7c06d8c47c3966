"""The helpdesk recipe of docs/handoff.md, run as printed: its receiver on 127.0.0.1 gets the
signed ``conversation.handoff_requested`` webhook from the real app and opens a ticket with one
JSON POST to a helpdesk stand-in (a remote service, so a fake) on another loopback port; a
request with a wrong signature opens nothing."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import REPO, admin_headers, make_settings


def _recipe() -> dict[str, Any]:
    page = (REPO / "docs" / "handoff.md").read_text()
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "Receiver" in b)
    namespace: dict[str, Any] = {"__name__": "recipe"}
    exec(snippet, namespace)  # our own documentation, run to prove the published recipe works
    return namespace


class _Helpdesk(BaseHTTPRequestHandler):
    tickets: ClassVar[list[tuple[dict[str, str], Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.tickets.append((dict(self.headers.items()), json.loads(body)))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "11")
        self.end_headers()
        self.wfile.write(b'{"id": 123}')

    def log_message(self, *_args: Any) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def helpdesk() -> Iterator[str]:
    _Helpdesk.tickets = []
    yield from _serve(_Helpdesk)


@pytest.fixture
def recipe(helpdesk: str) -> Iterator[tuple[dict[str, Any], str]]:
    namespace = _recipe()
    namespace["HELPDESK_URL"] = helpdesk + "api/v2/tickets.json"
    namespace["HELPDESK_TOKEN"] = "helpdesk-token"
    for url in _serve(namespace["Receiver"]):
        yield namespace, url


@pytest.fixture
def app_container(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Container]:
    settings = make_settings(
        tmp_path / "data", webhook__allowed_hosts=["127.0.0.1"], webhook__base_delay_s=0.05
    )
    built = build_container(settings, embedder=embedder)
    yield built
    built.close()


def test_the_documented_receiver_opens_a_ticket_with_the_transcript(
    app_container: Container, recipe: tuple[dict[str, Any], str]
) -> None:
    namespace, receiver_url = recipe
    with TestClient(
        create_app(app_container),
        raise_server_exceptions=False,
        headers=admin_headers(app_container),
    ) as api:
        kb_id = api.post("/v1/kbs", json={"name": "shop", "default_model": "extractive"}).json()[
            "id"
        ]
        api.put(f"/v1/kbs/{kb_id}/handoff", json={"enabled": True})
        hook = api.post(
            "/v1/webhooks",
            json={"url": receiver_url, "events": ["conversation.handoff_requested"]},
        ).json()
        namespace["SECRET"] = hook["secret"]
        api.put("/v1/users/ada/profile", params={"kb_id": kb_id}, json={"name": "Ada Lovelace"})
        sent = api.post(
            "/v1/messages/send",
            json={"kb_id": kb_id, "user_id": "ada", "text": "Je veux parler à un conseiller"},
        )
        assert sent.status_code == 200 and sent.json()["state"] == "waiting_for_agent"
        deadline = time.monotonic() + 30
        while not _Helpdesk.tickets:
            assert time.monotonic() < deadline, "no ticket reached the helpdesk"
            time.sleep(0.05)
    ((headers, body),) = _Helpdesk.tickets
    assert headers["Authorization"] == "Bearer helpdesk-token"
    ticket = body["ticket"]
    assert ticket["external_id"] == sent.json()["conversation_id"]
    assert ticket["requester"] == {"name": "Ada Lovelace"}
    assert ticket["subject"] == "Chat handed over (visitor_message)"
    assert "user: Je veux parler à un conseiller" in ticket["comment"]["body"]
    assert "bot: Je vous mets en relation" in ticket["comment"]["body"]

    forged = httpx.post(
        receiver_url,
        content=b'{"type": "conversation.handoff_requested", "data": {}}',
        headers={"X-KB-Timestamp": "1", "X-KB-Signature": "v1=00"},
    )
    assert forged.status_code == 401 and len(_Helpdesk.tickets) == 1
