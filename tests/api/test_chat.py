"""Conversations through the API: memory, follow-ups, actions, events, variables, profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.fakes.openai import FakeOpenAIServer
from tests.support.sse_client import read_events

LAMP = (
    "# Aurora lamp\n\nThe Aurora lamp is a bedside lamp with a warm dimmable light. "
    "The Aurora lamp costs 39 euros."
)
HEATER = (
    "# Borealis heater\n\nThe Borealis heater warms rooms up to 20 square metres. "
    "The Borealis heater costs 129 euros."
)


@pytest.fixture
def kb_id(client: TestClient) -> str:
    kb: str = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    for title, text in (("Aurora lamp", LAMP), ("Borealis heater", HEATER)):
        client.post(f"/v1/kbs/{kb}/documents", json={"title": title, "text": text})
    return kb


def _send(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/messages/send", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_follow_up_is_rewritten_with_the_history_and_finds_the_right_passage(
    client: TestClient, kb_id: str
) -> None:
    first = _send(client, kb_id=kb_id, user_id="u1", text="What is the Aurora lamp?")
    assert first["grounded"] is True and "bedside lamp" in first["answer"]
    conversation = first["conversation_id"]

    follow_up = _send(
        client,
        kb_id=kb_id,
        user_id="u1",
        conversation_id=conversation,
        text="and how much does it cost?",
    )
    assert follow_up["conversation_id"] == conversation
    assert "39 euros" in follow_up["answer"] and "129" not in follow_up["answer"]
    assert "Aurora" in follow_up["user_message"]["standalone_question"]
    assert follow_up["message"]["role"] == "bot"
    assert follow_up["message"]["citations"] == follow_up["citations"]


def test_the_same_follow_up_in_a_new_conversation_is_not_rewritten(
    client: TestClient, kb_id: str
) -> None:
    alone = _send(client, kb_id="shop", user_id="u1", text="and how much does it cost?")
    assert alone["user_message"]["standalone_question"] == "and how much does it cost?"
    # Without the history nothing is about "it": the rewrite is what finds the price above.
    assert alone["grounded"] is False


def test_history_is_paginated_oldest_first(client: TestClient, kb_id: str) -> None:
    first = _send(client, kb_id=kb_id, user_id="u1", text="What is the Aurora lamp?")
    conversation = first["conversation_id"]
    _send(client, kb_id=kb_id, user_id="u1", conversation_id=conversation, text="Its price?")

    page = client.get(f"/v1/conversations/{conversation}/history?limit=3").json()
    assert page["total"] == 4 and len(page["items"]) == 3
    assert [m["role"] for m in page["items"]] == ["user", "bot", "user"]
    assert page["items"][0]["text"] == "What is the Aurora lamp?"
    rest = client.get(f"/v1/conversations/{conversation}/history?limit=3&offset=3").json()
    assert [m["role"] for m in rest["items"]] == ["bot"]
    assert "39 euros" in rest["items"][0]["text"]


def test_button_action_payload_is_answered_and_sets_variables(
    client: TestClient, kb_id: str
) -> None:
    reply = _send(
        client,
        kb_id=kb_id,
        user_id="u2",
        action={
            "type": "button",
            "title": "Heater price",
            "payload": "How much does the Borealis heater cost?",
            "variables": {"topic": "heater"},
        },
    )
    assert "129 euros" in reply["answer"]
    assert reply["user_message"]["action"]["title"] == "Heater price"
    conversation = reply["conversation_id"]
    variables = client.get(f"/v1/conversations/{conversation}/variables").json()
    assert variables["variables"] == {"topic": "heater"}


def test_variables_events_and_profiles(client: TestClient, kb_id: str) -> None:
    conversation = _send(client, kb_id=kb_id, user_id="u3", text="What is the Aurora lamp?")[
        "conversation_id"
    ]
    put = client.put(
        f"/v1/conversations/{conversation}/variables",
        json={"variables": {"step": 2, "cart": ["lamp"]}},
    )
    assert put.json()["variables"] == {"step": 2, "cart": ["lamp"]}
    assert client.get(f"/v1/conversations/{conversation}/variables").json() == put.json()

    assert client.get(f"/v1/conversations/{conversation}").json()["read_at"] is None
    for kind in ("typing", "read"):
        event = client.post(f"/v1/conversations/{conversation}/events", json={"type": kind})
        assert event.status_code == 202 and event.json()["type"] == kind
    status = client.get(f"/v1/conversations/{conversation}").json()
    assert status["read_at"] is not None and status["typing_at"] is not None

    of_kb = {"kb_id": kb_id}  # a profile belongs to a knowledge base (tests/api/test_tenancy.py)
    empty = client.get("/v1/users/u3/profile", params=of_kb).json()
    assert empty["name"] is None and empty["attributes"] == {}
    profile = {"name": "Ada", "language": "fr", "plan": "pro", "attributes": {"vip": True}}
    assert client.put("/v1/users/u3/profile", json=profile, params=of_kb).json()["plan"] == "pro"
    saved = client.get("/v1/users/u3/profile", params=of_kb).json()
    assert {key: saved[key] for key in profile} == profile and saved["kb_id"] == kb_id


def test_conversation_errors_have_the_one_shape(client: TestClient, kb_id: str) -> None:
    conversation = _send(client, kb_id=kb_id, user_id="owner", text="What is the Aurora lamp?")[
        "conversation_id"
    ]
    stranger = client.post(
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "other", "conversation_id": conversation, "text": "Hi?"},
    )
    assert stranger.status_code == 404 and stranger.json()["code"] == "conversation_not_found"
    missing = client.get("/v1/conversations/conv_missing/history")
    assert missing.status_code == 404 and missing.json()["code"] == "conversation_not_found"
    both = client.post(
        "/v1/messages/send",
        json={
            "kb_id": kb_id,
            "user_id": "u",
            "text": "a",
            "action": {"type": "button", "payload": "b"},
        },
    )
    assert both.status_code == 422 and both.json()["code"] == "validation_failed"
    no_kb = client.post("/v1/messages/send", json={"kb_id": "nope", "user_id": "u", "text": "a"})
    assert no_kb.status_code == 404 and no_kb.json()["code"] == "kb_not_found"
    bad_event = client.post(f"/v1/conversations/{conversation}/events", json={"type": "wave"})
    assert bad_event.status_code == 422


def test_streamed_message_is_stored_with_the_ids_sent_in_done(
    live_server: str, auth_headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=live_server, headers=auth_headers, timeout=30) as http:
        kb = http.post("/v1/kbs", json={"name": "shop"}).json()["id"]
        http.post(f"/v1/kbs/{kb}/documents", json={"title": "Aurora lamp", "text": LAMP})
        body = {"kb_id": kb, "user_id": "u1", "text": "How much is the Aurora lamp?"}
        with http.stream("POST", "/v1/messages/send", json={**body, "stream": True}) as response:
            events = list(read_events(response))
        assert [e.name for e in events][-2:] == ["citations", "done"]
        done = events[-1].data
        assert "39 euros" in done["answer"]
        history = http.get(f"/v1/conversations/{done['conversation_id']}/history").json()
        assert [m["id"] for m in history["items"]] == [
            done["user_message_id"],
            done["message_id"],
        ]
        assert history["items"][1]["text"] == done["answer"]


def test_a_follow_up_is_rewritten_by_the_knowledge_bases_default_model(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Regression: with no model in the request, the follow-up rewriter used the server's
    default (rules) instead of the knowledge base's default chat model."""
    with FakeOpenAIServer(reply='"How much does the Aurora lamp cost?"') as provider:
        settings = make_settings(
            tmp_path / "data", llm__openai_compatible__base_url=provider.base_url
        )
        container = build_container(settings, embedder=embedder)
        with TestClient(create_app(container), headers=admin_headers(container)) as client:
            kb = client.post(
                "/v1/kbs", json={"name": "shop", "default_model": "openai-compatible"}
            ).json()["id"]
            client.post(f"/v1/kbs/{kb}/documents", json={"title": "Aurora lamp", "text": LAMP})
            first = _send(client, kb_id=kb, user_id="u1", text="What is the Aurora lamp?")
            asked = len(provider.requests)
            follow_up = _send(
                client,
                kb_id=kb,
                user_id="u1",
                conversation_id=first["conversation_id"],
                text="and how much does it cost?",
            )
    standalone = follow_up["user_message"]["standalone_question"]
    assert standalone == "How much does the Aurora lamp cost?"
    assert len(provider.requests) == asked + 2  # the rewrite, then the answer


def test_the_users_profile_reaches_the_answering_model(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Regression: profiles were stored and returned but never told to the model."""
    with FakeOpenAIServer(reply="The Aurora lamp costs 39 euros [1].") as provider:
        settings = make_settings(
            tmp_path / "data", llm__openai_compatible__base_url=provider.base_url
        )
        container = build_container(settings, embedder=embedder)
        with TestClient(create_app(container), headers=admin_headers(container)) as client:
            kb = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
            client.post(f"/v1/kbs/{kb}/documents", json={"title": "Aurora lamp", "text": LAMP})
            profile = {"name": "Ana", "language": "French", "plan": "Pro"}
            put = client.put("/v1/users/u9/profile", json=profile, params={"kb_id": kb})
            assert put.status_code == 200, put.text
            reply = _send(
                client,
                kb_id=kb,
                user_id="u9",
                text="How much does the Aurora lamp cost?",
                model="openai-compatible",
            )
            other = _send(
                client,
                kb_id=kb,
                user_id="u10",
                text="How much does the Aurora lamp cost?",
                model="openai-compatible",
            )
    assert reply["grounded"] is True and other["grounded"] is True
    prompts = [r.body["messages"][-1]["content"] for r in provider.requests]
    assert 'name: "Ana"\nplan: "Pro"\n</profile>' in prompts[0]
    assert "Answer in French." in prompts[0]
    assert "<profile>" not in prompts[1] and "Answer in" not in prompts[1]


def test_a_profile_holding_only_a_language_still_reaches_the_model(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Regression guard: a profile with a language and nothing else was read as empty."""
    with FakeOpenAIServer(reply="The Aurora lamp costs 39 euros [1].") as provider:
        settings = make_settings(
            tmp_path / "data", llm__openai_compatible__base_url=provider.base_url
        )
        container = build_container(settings, embedder=embedder)
        with TestClient(create_app(container), headers=admin_headers(container)) as client:
            kb = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
            client.post(f"/v1/kbs/{kb}/documents", json={"title": "Aurora lamp", "text": LAMP})
            put = client.put(
                "/v1/users/u11/profile", json={"language": "French"}, params={"kb_id": kb}
            )
            assert put.status_code == 200, put.text
            reply = _send(
                client,
                kb_id=kb,
                user_id="u11",
                text="How much does the Aurora lamp cost?",
                model="openai-compatible",
            )
    assert reply["grounded"] is True
    prompt = provider.requests[-1].body["messages"][-1]["content"]
    assert "Answer in French." in prompt
    assert "<profile>" not in prompt  # no name or plan to tell
