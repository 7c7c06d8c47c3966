"""Human handoff through the real app, with the real webhook worker delivering to a receiver on
127.0.0.1: a visitor asks for a person (button, words), the helpdesk is told, the bot stays
silent while an agent holds the conversation, the agent's reply reaches the visitor's events
endpoint, the agent hands back and closes; the policy hands over after unanswered questions;
outside business hours the visitor is told when people are back and offered the lead form."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from engine.answer import QueryService
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.webhook_receiver import Receiver, serve_receiver

SITE = "https://shop.example.com"
DOC = (
    "# Opening hours\n\nThe shop opens at nine in the morning. It closes at six in the evening "
    "on weekdays. On Saturdays the shop closes at noon."
)
ALWAYS_OPEN = {"enabled": True, "after_unanswered": 2}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


@pytest.fixture
def app_container(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Container]:
    settings = make_settings(
        tmp_path / "data",
        webhook__allowed_hosts=["127.0.0.1"],
        webhook__base_delay_s=0.05,
        webhook__timeout_s=5.0,
    )
    built = build_container(settings, embedder=embedder)
    yield built
    built.close()


@pytest.fixture
def api(app_container: Container) -> Iterator[TestClient]:
    with TestClient(
        create_app(app_container),
        raise_server_exceptions=False,
        headers=admin_headers(app_container),
    ) as client:
        yield client


def _shop(api: TestClient, handoff: dict[str, Any] | None = ALWAYS_OPEN) -> str:
    kb_id = str(
        api.post("/v1/kbs", json={"name": "shop", "default_model": "extractive"}).json()["id"]
    )
    added = api.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Hours", "text": DOC})
    assert added.status_code in (200, 201, 202), added.text
    if handoff is not None:
        saved = api.put(f"/v1/kbs/{kb_id}/handoff", json=handoff)
        assert saved.status_code == 200, saved.text
    return kb_id


def _key(container: Container, scopes: list[str], **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {container.keys.create(scopes, **kwargs).secret}"}


def _visitor(container: Container, kb_id: str) -> dict[str, str]:
    secret = container.keys.create(
        ["chat"], [kb_id], kind="publishable", allowed_origins=[SITE]
    ).secret
    return {"X-API-Key": secret, "Origin": SITE, "Authorization": ""}


def _send(api: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/messages/send", json=body, headers=headers)
    assert response.status_code == 200, response.text
    sent: dict[str, Any] = response.json()
    return sent


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The questions the answering path was asked (it still answers them)."""
    calls: list[str] = []
    answer, stream = QueryService.answer, QueryService.stream

    def counted_answer(self: QueryService, question: Any, kb: Any) -> Any:
        calls.append(question.text)
        return answer(self, question, kb)

    def counted_stream(self: QueryService, question: Any, kb: Any) -> Any:
        calls.append(question.text)
        return stream(self, question, kb)

    monkeypatch.setattr(QueryService, "answer", counted_answer)
    monkeypatch.setattr(QueryService, "stream", counted_stream)
    return calls


def test_handoff_end_to_end_button_agent_reply_events_hand_back_and_close(
    api: TestClient, app_container: Container, receiver: Receiver, model_calls: list[str]
) -> None:
    kb_id = _shop(api)
    hook = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["*"]})
    assert hook.status_code == 201, hook.text
    visitor = _visitor(app_container, kb_id)
    agent = _key(app_container, ["agent", "chat"])

    first = _send(
        api, visitor, {"kb_id": kb_id, "user_id": "v1", "text": "When does the shop open?"}
    )
    conversation = first["conversation_id"]
    assert first["state"] == "bot" and first["handoff"] is None and "nine" in first["answer"]
    visitor["X-Visitor-Token"] = first["visitor_token"]

    asked = _send(
        api,
        visitor,
        {
            "kb_id": kb_id,
            "user_id": "v1",
            "conversation_id": conversation,
            "action": {"type": "handoff", "payload": "Talk to a person"},
        },
    )
    assert asked["state"] == "waiting_for_agent"
    assert asked["handoff"]["reason"] == "visitor_request" and asked["handoff"]["available"]
    assert asked["message"]["model"] == "handoff" and asked["message"]["id"]
    (requested,) = receiver.wait_event("conversation.handoff_requested")
    data = requested.json()["data"]
    assert data["conversation_id"] == conversation and data["reason"] == "visitor_request"
    assert data["profile"]["verified"] is False  # a visitor's browser named the user id
    assert [m["role"] for m in data["transcript"]] == ["user", "bot", "user", "bot"]
    assert data["transcript"][0]["text"] == "When does the shop open?"

    calls = len(model_calls)
    held = _send(
        api,
        visitor,
        {"kb_id": kb_id, "user_id": "v1", "conversation_id": conversation, "text": "Hello?"},
    )
    assert len(model_calls) == calls, "the bot answered while a person was to"
    assert held["state"] == "waiting_for_agent" and held["message"]["id"] == ""
    assert held["user_message"]["text"] == "Hello?"

    cursor = api.get(f"/v1/conversations/{conversation}/events", headers=visitor).json()["cursor"]
    refused = api.post(
        f"/v1/conversations/{conversation}/messages",
        json={"role": "agent", "text": "Hi"},
        headers=_key(app_container, ["chat"]),
    )
    assert refused.status_code == 403 and refused.json()["required_scope"] == "agent"
    assert api.post(
        f"/v1/conversations/{conversation}/messages", json={"text": "Hi"}, headers=visitor
    ).status_code in (403, 404)
    reply = api.post(
        f"/v1/conversations/{conversation}/messages",
        json={
            "role": "agent",
            "text": "Hi, I'm <b>Marie</b>. How can I help?",
            "agent_name": "Marie",
        },
        headers=agent,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["role"] == "agent" and reply.json()["agent_name"] == "Marie"
    (replied,) = receiver.wait_event("conversation.agent_replied")
    assert replied.json()["data"]["message_id"] == reply.json()["id"]

    polled = api.get(
        f"/v1/conversations/{conversation}/events", params={"after": cursor}, headers=visitor
    )
    assert polled.status_code == 200, polled.text
    events = polled.json()
    assert events["state"] == "agent"
    assert [(m["role"], m["agent_name"]) for m in events["items"]] == [("agent", "Marie")]
    assert events["cursor"] == reply.json()["seq"]
    again = api.get(
        f"/v1/conversations/{conversation}/events",
        params={"after": events["cursor"]},
        headers=visitor,
    )
    assert again.json()["items"] == []
    stranger = {**visitor, "X-Visitor-Token": "not-the-token"}
    assert api.get(f"/v1/conversations/{conversation}/events", headers=stranger).status_code == 404

    silent = _send(
        api,
        visitor,
        {"kb_id": kb_id, "user_id": "v1", "conversation_id": conversation, "text": "Thanks"},
    )
    assert silent["state"] == "agent" and len(model_calls) == calls

    released = api.post(f"/v1/conversations/{conversation}/release", headers=agent)
    assert released.status_code == 200 and released.json()["state"] == "bot"
    receiver.wait_event("conversation.released")
    back = _send(
        api,
        visitor,
        {
            "kb_id": kb_id,
            "user_id": "v1",
            "conversation_id": conversation,
            "text": "When does the shop close on Saturdays?",
        },
    )
    assert back["state"] == "bot" and "noon" in back["answer"] and len(model_calls) == calls + 1

    closed = api.post(f"/v1/conversations/{conversation}/close", headers=agent)
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    receiver.wait_event("conversation.closed")
    after_close = api.post(
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "v1", "conversation_id": conversation, "text": "Hi"},
        headers=visitor,
    )
    assert after_close.status_code == 409 and after_close.json()["code"] == "conflict"
    shown = api.get(f"/v1/conversations/{conversation}", headers=visitor).json()
    assert shown["state"] == "closed" and shown["handoff_reason"] == "visitor_request"
    assert shown["handoff_at"] is not None


@pytest.mark.parametrize(
    "text",
    ["Je veux parler à un conseiller", "je voudrais parler a un humain svp", "talk to a person"],
)
def test_a_message_asking_for_a_person_hands_over_in_the_visitors_language(
    api: TestClient, app_container: Container, text: str, model_calls: list[str]
) -> None:
    kb_id = _shop(api)
    sent = _send(api, {}, {"kb_id": kb_id, "user_id": "u1", "text": text})
    assert sent["state"] == "waiting_for_agent" and sent["handoff"]["reason"] == "visitor_message"
    assert model_calls == []
    french = text.lower().startswith("je")
    assert ("personne" in sent["answer"]) is french, sent["answer"]


def test_the_policy_hands_over_after_n_answers_the_knowledge_base_lacked(
    api: TestClient, app_container: Container, receiver: Receiver
) -> None:
    kb_id = _shop(api)
    api.post(
        "/v1/webhooks", json={"url": receiver.url, "events": ["conversation.handoff_requested"]}
    )
    body = {"kb_id": kb_id, "user_id": "u2", "text": "What is the warranty on laptops?"}
    first = _send(api, {}, body)
    assert first["grounded"] is False and first["state"] == "bot" and first["handoff"] is None
    answered = _send(
        api,
        {},
        {**body, "conversation_id": first["conversation_id"], "text": "When does the shop open?"},
    )
    assert answered["grounded"] is True and answered["state"] == "bot"
    # The answered question broke the run: two more unanswered ones are needed.
    conversation = first["conversation_id"]
    second = _send(api, {}, {**body, "conversation_id": conversation, "text": "Do you sell bikes?"})
    assert second["state"] == "bot"
    third = _send(api, {}, {**body, "conversation_id": conversation, "text": "Is parking free?"})
    assert third["grounded"] is False and third["state"] == "waiting_for_agent"
    assert third["handoff"]["reason"] == "unanswered"
    (requested,) = receiver.wait_event("conversation.handoff_requested")
    assert requested.json()["data"]["reason"] == "unanswered"
    history = api.get(f"/v1/conversations/{conversation}/history").json()["items"]
    assert history[-1]["model"] == "handoff" and history[-1]["text"] == third["handoff"]["text"]


def test_outside_business_hours_the_visitor_is_told_when_and_offered_the_lead_form(
    api: TestClient,
) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow.weekday()]
    kb_id = _shop(
        api, {"enabled": True, "timezone": "UTC", "business_hours": {day: ["09:00-17:00"]}}
    )
    sent = _send(api, {}, {"kb_id": kb_id, "user_id": "u3", "text": "I want to talk to a human"})
    notice = sent["handoff"]
    assert sent["state"] == "waiting_for_agent"
    assert notice["available"] is False and notice["lead_form"] is True
    opens = datetime.fromisoformat(notice["available_at"])
    assert opens.date() == tomorrow.date() and (opens.hour, opens.minute) == (9, 0)
    assert tomorrow.strftime("%A") in notice["text"] and "09:00 (UTC)" in notice["text"]
    lead = api.post(
        f"/v1/conversations/{sent['conversation_id']}/lead",
        json={"name": "Ada", "email": "ada@example.com", "question": "Call me"},
    )
    assert lead.status_code == 201, lead.text


def test_handoff_off_the_bot_answers_requests_and_the_button_is_refused(api: TestClient) -> None:
    kb_id = _shop(api, handoff=None)
    assert api.get(f"/v1/kbs/{kb_id}/handoff").json()["enabled"] is False
    sent = _send(api, {}, {"kb_id": kb_id, "user_id": "u4", "text": "talk to a person"})
    assert sent["state"] == "bot" and sent["handoff"] is None
    pressed = api.post(
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "u4", "action": {"type": "handoff", "payload": "Person"}},
    )
    assert pressed.status_code == 409 and pressed.json()["code"] == "conflict"
    over_api = api.post(f"/v1/conversations/{sent['conversation_id']}/handoff", json={})
    assert over_api.status_code == 409


def test_the_api_hands_over_with_a_reason_and_the_stream_carries_the_state(
    api: TestClient,
) -> None:
    kb_id = _shop(api)
    sent = _send(api, {}, {"kb_id": kb_id, "user_id": "u5", "text": "When does the shop open?"})
    conversation = sent["conversation_id"]
    handed = api.post(f"/v1/conversations/{conversation}/handoff", json={"reason": "vip"})
    assert handed.status_code == 200, handed.text
    assert handed.json()["conversation"]["state"] == "waiting_for_agent"
    assert handed.json()["conversation"]["handoff_reason"] == "vip"
    assert handed.json()["message"]["model"] == "handoff"
    twice = api.post(f"/v1/conversations/{conversation}/handoff", json={"reason": "vip"})
    assert twice.status_code == 200 and twice.json()["message"] is None
    with api.stream(
        "POST",
        "/v1/messages/send",
        json={
            "kb_id": kb_id,
            "user_id": "u5",
            "conversation_id": conversation,
            "text": "Anyone?",
            "stream": True,
        },
    ) as streamed:
        body = "".join(streamed.iter_text())
    assert "event: done" in body and '"state": "waiting_for_agent"' in body
    assert "event: delta" not in body


def test_settings_are_validated_and_the_widget_config_follows_them(
    api: TestClient, app_container: Container
) -> None:
    kb_id = _shop(api, handoff=None)
    for bad in (
        {"timezone": "Mars/Olympus"},
        {"business_hours": {"mon": ["18:00-09:00"]}},
        {"business_hours": {"someday": ["09:00-18:00"]}},
        {"after_unanswered": -1},
        {"unknown": True},
    ):
        refused = api.put(f"/v1/kbs/{kb_id}/handoff", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    visitor = _visitor(app_container, kb_id)
    key = visitor["X-API-Key"]
    config = api.get("/v1/widget/config", params={"key": key}, headers={"Origin": SITE})
    assert config.json()["handoff"] is False
    api.put(f"/v1/kbs/{kb_id}/handoff", json={"enabled": True, "timezone": "Europe/Paris"})
    config = api.get("/v1/widget/config", params={"key": key}, headers={"Origin": SITE})
    assert config.json()["handoff"] is True
    saved = api.get(f"/v1/kbs/{kb_id}/handoff").json()
    assert saved["timezone"] == "Europe/Paris" and saved["updated_at"]
    assert api.delete(f"/v1/kbs/{kb_id}").status_code in (200, 202, 204)
    assert app_container.handoff.settings(kb_id) == ({}, None)  # erased with the knowledge base


def test_long_polling_answers_when_the_agent_replies_or_when_the_wait_ends(
    api: TestClient, app_container: Container
) -> None:
    kb_id = _shop(api)
    sent = _send(api, {}, {"kb_id": kb_id, "user_id": "u6", "text": "talk to a person"})
    conversation = sent["conversation_id"]
    cursor = api.get(f"/v1/conversations/{conversation}/events").json()["cursor"]
    started = time.monotonic()
    idle = api.get(f"/v1/conversations/{conversation}/events?after={cursor}&wait=2")
    assert idle.json()["items"] == [] and 1.5 <= time.monotonic() - started < 10
    reply = threading.Timer(1.0, app_container.handoff.agent_reply, (conversation, "Hi", "Lou"))
    reply.start()
    started = time.monotonic()
    woken = api.get(f"/v1/conversations/{conversation}/events?after={cursor}&wait=20").json()
    reply.join()
    assert [m["text"] for m in woken["items"]] == ["Hi"] and woken["state"] == "agent"
    assert time.monotonic() - started < 10  # woken by the reply, not by the end of the wait
    released = threading.Timer(1.0, app_container.handoff.release, (conversation,))
    released.start()
    after = woken["cursor"]
    back = api.get(f"/v1/conversations/{conversation}/events?after={after}&wait=20").json()
    released.join()
    assert back["items"] == [] and back["state"] == "bot"
    too_long = api.get(f"/v1/conversations/{conversation}/events?wait=26")
    assert too_long.status_code == 422


def test_a_refusal_offers_the_suggested_questions_and_a_person_as_quick_replies(
    api: TestClient,
) -> None:
    kb_id = _shop(api, {"enabled": True, "after_unanswered": 5})
    suggestions = ["When does the shop open?", "Is it open on Saturdays?"]
    saved = api.put(f"/v1/kbs/{kb_id}/widget", json={"suggestions": suggestions})
    assert saved.status_code == 200, saved.text
    answered = _send(api, {}, {"kb_id": kb_id, "user_id": "q1", "text": suggestions[0]})
    assert answered["grounded"] and answered["quick_replies"] == []
    refused = _send(
        api,
        {},
        {
            "kb_id": kb_id,
            "user_id": "q1",
            "conversation_id": answered["conversation_id"],
            "text": "Do you sell bicycles?",
        },
    )
    assert not refused["grounded"]
    assert refused["quick_replies"] == [
        {"type": "quick_reply", "title": s, "payload": s} for s in suggestions
    ] + [{"type": "handoff", "title": "Talk to a person", "payload": "handoff"}]
    with api.stream(
        "POST",
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "q2", "text": "Do you sell bicycles?", "stream": True},
    ) as streamed:
        body = "".join(streamed.iter_text())
    done = json.loads(body.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert [r["payload"] for r in done["quick_replies"]] == [*suggestions, "handoff"]
