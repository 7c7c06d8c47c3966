"""Feedback on the bot's messages: thumbs up or down with a comment, by the visitor who owns the
conversation (publishable key + visitor token) or a secret chat key; one per message (a new one
replaces it); announced as ``message.feedback``; shown in the history; refused clearly on a
visitor's own message and answered 404 to strangers, as for a missing message."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.container import Container
from kb.runtime.events import Event

SITE = "https://shop.example.com"


@pytest.fixture
def kb_id(client: TestClient) -> str:
    kb = client.post("/v1/kbs", json={"name": "shop"}).json()
    client.post(
        f"/v1/kbs/{kb['id']}/documents",
        json={"title": "Prices", "text": "The starter plan costs 9 EUR a month."},
    )
    return str(kb["id"])


@pytest.fixture
def events(container: Container) -> list[Event]:
    seen: list[Event] = []
    container.events.subscribe(seen.append)
    return seen


def _visitor(client: TestClient, container: Container, kb_id: str) -> tuple[dict[str, str], Any]:
    secret = container.keys.create(
        ["chat"], [kb_id], kind="publishable", allowed_origins=[SITE]
    ).secret
    headers = {"Authorization": f"Bearer {secret}", "Origin": SITE}
    reply = client.post(
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "visitor-1", "text": "How much is the starter plan?"},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    return headers, reply.json()


def test_a_visitor_rates_an_answer_and_sees_it_in_the_history(
    client: TestClient, container: Container, kb_id: str, events: list[Event]
) -> None:
    headers, reply = _visitor(client, container, kb_id)
    mine = headers | {"X-Visitor-Token": reply["visitor_token"]}
    bot_id = reply["message"]["id"]
    rated = client.post(
        f"/v1/messages/{bot_id}/feedback",
        json={"rating": "down", "comment": "Not what I asked"},
        headers=mine,
    )
    assert rated.status_code == 200, rated.text
    body = rated.json()
    assert {k: body[k] for k in ("message_id", "conversation_id", "rating", "comment")} == {
        "message_id": bot_id,
        "conversation_id": reply["conversation_id"],
        "rating": "down",
        "comment": "Not what I asked",
    }
    (event,) = [e for e in events if e.type == "message.feedback"]
    assert event.data["message_id"] == bot_id and event.data["rating"] == "down"
    assert event.data["kb_id"] == kb_id and event.data["user_id"] == "visitor-1"
    # A new rating replaces the previous one.
    again = client.post(f"/v1/messages/{bot_id}/feedback", json={"rating": "up"}, headers=mine)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    history = client.get(
        f"/v1/conversations/{reply['conversation_id']}/history", headers=mine
    ).json()
    user_message, bot_message = history["items"]
    assert user_message["feedback"] is None
    assert bot_message["feedback"]["rating"] == "up" and bot_message["feedback"]["comment"] is None
    assert isinstance(bot_message["latency_ms"], int) and bot_message["latency_ms"] >= 0


def test_only_the_bots_messages_take_feedback(
    client: TestClient, container: Container, kb_id: str
) -> None:
    headers, reply = _visitor(client, container, kb_id)
    mine = headers | {"X-Visitor-Token": reply["visitor_token"]}
    user_id = reply["user_message"]["id"]
    refused = client.post(f"/v1/messages/{user_id}/feedback", json={"rating": "up"}, headers=mine)
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert "bot" in refused.json()["detail"]
    bad = client.post(
        f"/v1/messages/{reply['message']['id']}/feedback", json={"rating": 1}, headers=mine
    )
    assert bad.status_code == 422


def test_strangers_get_404_as_for_a_missing_message(
    client: TestClient, container: Container, kb_id: str
) -> None:
    headers, reply = _visitor(client, container, kb_id)
    path = f"/v1/messages/{reply['message']['id']}/feedback"
    no_token = client.post(path, json={"rating": "up"}, headers=headers)
    wrong_token = client.post(
        path, json={"rating": "up"}, headers=headers | {"X-Visitor-Token": "x" * 43}
    )
    missing = client.post(
        "/v1/messages/msg_missing/feedback",
        json={"rating": "up"},
        headers=headers | {"X-Visitor-Token": reply["visitor_token"]},
    )
    other_kb = client.post("/v1/kbs", json={"name": "elsewhere"}).json()["id"]
    restricted = {"Authorization": "Bearer " + container.keys.create(["chat"], [other_kb]).secret}
    elsewhere = client.post(path, json={"rating": "up"}, headers=restricted)
    for response in (no_token, wrong_token, missing, elsewhere):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "message_not_found"
    message_id = reply["message"]["id"]
    details = {r.json()["detail"].replace(message_id, "X") for r in (no_token, elsewhere)}
    assert details == {missing.json()["detail"].replace("msg_missing", "X")}


def test_a_secret_chat_key_may_rate_any_message_it_reaches(
    client: TestClient, container: Container, kb_id: str
) -> None:
    chat = {"Authorization": "Bearer " + container.keys.create(["chat"], [kb_id]).secret}
    reply = client.post(
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "customer-7", "text": "Starter plan price?"},
        headers=chat,
    ).json()
    rated = client.post(
        f"/v1/messages/{reply['message']['id']}/feedback", json={"rating": "up"}, headers=chat
    )
    assert rated.status_code == 200, rated.text
    unscoped = {"Authorization": "Bearer " + container.keys.create(["kb:read"]).secret}
    path = f"/v1/messages/{reply['message']['id']}/feedback"
    assert client.post(path, json={"rating": "up"}, headers=unscoped).status_code == 403


def test_a_comment_is_masked_when_masking_is_on(
    client: TestClient, container: Container, kb_id: str
) -> None:
    feedback = container.data.feedback
    reply = client.post(
        "/v1/messages/send", json={"kb_id": kb_id, "user_id": "u", "text": "Price?"}
    ).json()
    feedback._mask = True  # the KB_PRIVACY__MASK_PII setting, as built by the container
    stored = feedback.record(reply["message"]["id"], "down", "Call me on 06 12 34 56 78")
    assert stored.comment == "Call me on [phone]"
