"""The OpenAI-compatible API, driven by the official ``openai`` client, unmodified."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from kb.settings import Settings
from tests.support.fakes.openai import FakeOpenAIServer

LAMP = (
    "# Aurora lamp\n\nThe Aurora lamp is a bedside lamp with a warm dimmable light. "
    "The Aurora lamp costs 39 euros."
)
HEATER = (
    "# Borealis heater\n\nThe Borealis heater warms rooms up to 20 square metres. "
    "The Borealis heater costs 129 euros."
)


@pytest.fixture
def settings(stand_in_settings: Settings) -> Settings:
    """Default settings, the openai-compatible model on the provider stand-in."""
    return stand_in_settings


@pytest.fixture
def kb_id(live_server: str, auth_headers: dict[str, str]) -> str:
    # A hang guard, not a limit: a loaded machine or a first import may take over 5 s.
    with httpx.Client(base_url=live_server, headers=auth_headers, timeout=60) as http:
        kb: str = http.post("/v1/kbs", json={"name": "shop"}).json()["id"]
        for title, text in (("Aurora lamp", LAMP), ("Borealis heater", HEATER)):
            http.post(f"/v1/kbs/{kb}/documents", json={"title": title, "text": text})
    return kb


@pytest.fixture
def bot(live_server: str, auth_headers: dict[str, str]) -> Iterator[openai.OpenAI]:
    # The OpenAI client sends its api_key as the Bearer token: our admin key.
    key = auth_headers["Authorization"].removeprefix("Bearer ")
    with openai.OpenAI(base_url=f"{live_server}/v1", api_key=key, max_retries=0) as client:
        yield client


def test_each_knowledge_base_is_a_model(bot: openai.OpenAI, kb_id: str) -> None:
    models = bot.models.list().data
    assert [m.id for m in models] == [kb_id]
    assert models[0].owned_by == "kb-engine" and (models[0].model_extra or {})["name"] == "shop"


def test_completion_answers_with_citations_in_the_extra_field(
    bot: openai.OpenAI, kb_id: str
) -> None:
    completion = bot.chat.completions.create(
        model="shop", messages=[{"role": "user", "content": "How much does the Aurora lamp cost?"}]
    )
    message = completion.choices[0].message
    assert message.role == "assistant" and "39 euros" in (message.content or "")
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra or {}
    assert extra["grounded"] is True
    assert extra["citations"][0]["title"] == "Aurora lamp"
    assert completion.usage is None  # the extractive answerer counts no tokens


def test_streamed_completion_ends_with_citations(bot: openai.OpenAI, kb_id: str) -> None:
    stream = bot.chat.completions.create(
        model=kb_id,
        messages=[{"role": "user", "content": "How much does the Borealis heater cost?"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "129 euros" in text
    assert chunks[0].choices[0].delta.role == "assistant"
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert (final.model_extra or {})["citations"][0]["title"] == "Borealis heater"


def test_history_in_messages_resolves_a_follow_up(bot: openai.OpenAI, kb_id: str) -> None:
    completion = bot.chat.completions.create(
        model="shop",
        messages=[
            {"role": "system", "content": "You are a shop assistant."},
            {"role": "user", "content": "Tell me about the Borealis heater."},
            {"role": "assistant", "content": "It warms rooms up to 20 square metres [1]."},
            {"role": "user", "content": "and what does it cost?"},
        ],
    )
    assert "129 euros" in (completion.choices[0].message.content or "")


def test_remote_answering_model_reports_usage_and_its_rewrite(
    bot: openai.OpenAI, kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = "The Aurora lamp costs 39 euros [1]."
    completion = bot.chat.completions.create(
        model="shop",
        messages=[
            {"role": "user", "content": "What is the Aurora lamp?"},
            {"role": "assistant", "content": "A bedside lamp [1]."},
            {"role": "user", "content": "How much?"},
        ],
        extra_body={"answer_model": "openai-compatible"},
    )
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert (completion.model_extra or {})["answer_model"] == "openai-compatible:gpt-test"
    rewrite, answer = provider.requests[-2:]
    # The chat model was first asked for the standalone question, with the history as data.
    assert "standalone" in rewrite.body["messages"][0]["content"]
    assert "What is the Aurora lamp?" in rewrite.body["messages"][1]["content"]
    # ...and its reply is what retrieval and the answer prompt used.
    assert "Question: The Aurora lamp costs 39 euros [1]." in answer.body["messages"][1]["content"]


def test_unknown_model_and_bad_messages_raise_in_the_client(bot: openai.OpenAI, kb_id: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        bot.chat.completions.create(model="nope", messages=[{"role": "user", "content": "Hi"}])
    assert missing.value.status_code == 404
    with pytest.raises(openai.BadRequestError):
        bot.chat.completions.create(
            model="shop", messages=[{"role": "assistant", "content": "Hello"}]
        )
