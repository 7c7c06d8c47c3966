"""Lead capture: a conversation records a visitor's contact details, listed per knowledge base;
bad input is refused in the one error shape and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.container import Container


@pytest.fixture
def kb_id(client: TestClient) -> str:
    kb = client.post("/v1/kbs", json={"name": "sales"}).json()
    client.post(
        f"/v1/kbs/{kb['id']}/documents",
        json={"title": "Prices", "text": "The starter plan costs 9 EUR a month."},
    )
    return str(kb["id"])


@pytest.fixture
def conversation_id(client: TestClient, kb_id: str) -> str:
    reply = client.post(
        "/v1/messages/send", json={"kb_id": kb_id, "user_id": "visitor-1", "text": "Prices?"}
    )
    return str(reply.json()["conversation_id"])


def _bearer(
    container: Container, scopes: list[str], kb_ids: list[str] | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {container.keys.create(scopes, kb_ids).secret}"}


def test_a_lead_is_recorded_and_listed(
    client: TestClient, container: Container, kb_id: str, conversation_id: str
) -> None:
    chat = _bearer(container, ["chat"])
    response = client.post(
        f"/v1/conversations/{conversation_id}/lead",
        json={
            "name": " Ada Lovelace ",
            "email": "ada@example.com",
            "question": "Is there a discount for 50 seats?",
            "fields": {"company": "Analytical Engines Ltd"},
        },
        headers=chat,
    )
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["id"].startswith("lead_") and lead["created_at"]
    assert {k: lead[k] for k in ("conversation_id", "kb_id", "user_id", "name", "email")} == {
        "conversation_id": conversation_id,
        "kb_id": kb_id,
        "user_id": "visitor-1",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
    }
    reader = _bearer(container, ["kb:read"])
    listed = client.get(f"/v1/kbs/{kb_id}/leads", headers=reader).json()
    assert listed["total"] == 1 and listed["items"] == [lead]


def test_leads_are_paginated_newest_first(
    client: TestClient, kb_id: str, conversation_id: str
) -> None:
    for n in range(3):
        client.post(
            f"/v1/conversations/{conversation_id}/lead",
            json={"name": f"Visitor {n}", "email": f"v{n}@example.org"},
        )
    page = client.get(f"/v1/kbs/{kb_id}/leads", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 1
    assert [item["name"] for item in page["items"]] == ["Visitor 1", "Visitor 0"]


def test_an_unknown_conversation_is_404(client: TestClient, kb_id: str) -> None:
    response = client.post(
        "/v1/conversations/conv_missing/lead", json={"name": "Ada", "email": "ada@example.com"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "conversation_not_found"
    assert client.get(f"/v1/kbs/{kb_id}/leads").json()["total"] == 0


def test_leads_of_an_unknown_knowledge_base_are_404(client: TestClient) -> None:
    response = client.get("/v1/kbs/kb_missing/leads")
    assert response.status_code == 404 and response.json()["code"] == "kb_not_found"


INVALID_LEADS: list[dict[str, Any]] = [
    {"name": "", "email": "ada@example.com"},
    {"name": "   ", "email": "ada@example.com"},
    {"name": "x" * 201, "email": "ada@example.com"},
    {"name": "Ada", "email": "not-an-address"},
    {"name": "Ada", "email": "ada@localhost"},
    {"name": "Ada", "email": "ada @example.com"},
    {"name": "Ada", "email": "<script>@example.com"},
    {"name": "Ada", "email": "a" * 250 + "@example.com"},
    {"name": "Ada", "email": "ada@-example.com"},
    {"name": "Ada", "email": "ada..l@example.com"},
    {"name": "Ada", "email": "ada@example.com\r\nBcc: all@example.com"},
    {"name": "Ada", "email": "ada@example.com", "question": "q" * 4001},
    {"name": "Ada", "email": "ada@example.com", "fields": {f"f{i}": "v" for i in range(21)}},
    {"name": "Ada", "email": "ada@example.com", "fields": {"company": "v" * 1001}},
    {"name": "Ada", "email": "ada@example.com", "fields": {"nested": {"a": 1}}},
    {"name": "Ada"},
    {"name": "Ada", "email": "ada@example.com", "phone": "123"},
]


def test_invalid_leads_are_422_and_nothing_is_stored(
    client: TestClient, kb_id: str, conversation_id: str
) -> None:
    for body in INVALID_LEADS:
        response = client.post(f"/v1/conversations/{conversation_id}/lead", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "validation_failed"
    assert client.get(f"/v1/kbs/{kb_id}/leads").json()["total"] == 0


def test_keys_reach_only_their_knowledge_bases_leads(
    client: TestClient, container: Container, kb_id: str, conversation_id: str
) -> None:
    other = client.post("/v1/kbs", json={"name": "elsewhere"}).json()["id"]
    outsider = _bearer(container, ["chat", "kb:read"], [other])
    response = client.post(
        f"/v1/conversations/{conversation_id}/lead",
        json={"name": "Ada", "email": "ada@example.com"},
        headers=outsider,
    )
    # Another tenant's conversation is missing to it, not forbidden (tests/api/test_tenancy.py).
    assert response.status_code == 404 and response.json()["code"] == "conversation_not_found"
    listed = client.get(f"/v1/kbs/{kb_id}/leads", headers=outsider)
    assert listed.status_code == 403
    chat_only = _bearer(container, ["chat"])
    assert client.get(f"/v1/kbs/{kb_id}/leads", headers=chat_only).status_code == 403
    assert client.get(f"/v1/kbs/{kb_id}/leads").json()["total"] == 0
