"""Gemini through the real ``google-genai`` client, pointed at a local Gemini REST server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.llms.base import ChatMessage, Prompt
from engine.llms.providers.gemini import GeminiModel
from engine.llms.registry import ModelRegistry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import ModelUnavailable, ProviderError
from tests.conftest import make_settings
from tests.support.fakes.gemini import FakeGeminiServer

KEY = "gemini-secret-test-key"
PROMPT = Prompt(
    messages=[
        ChatMessage("system", "Answer from passages."),
        ChatMessage("user", "Hello"),
        ChatMessage("assistant", "Hi."),
        ChatMessage("user", "Where?"),
    ],
    question="Where?",
)


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(reply="Staff park on level minus two [1].") as server:
        yield server


def _model(server: FakeGeminiServer, max_retries: int = 0) -> GeminiModel:
    return GeminiModel(
        "gemini-test", KEY, server.base_url, timeout_s=5, max_retries=max_retries, backoff_s=0.01
    )


def test_generate_sends_the_system_instruction_apart_and_reports_usage(
    gemini: FakeGeminiServer,
) -> None:
    generation = _model(gemini).generate(PROMPT, 64)
    assert generation.text == "Staff park on level minus two [1]."
    assert generation.model == "gemini:gemini-test"
    assert generation.usage.prompt_tokens == 6 and generation.usage.completion_tokens == 7
    sent = gemini.requests[-1]
    assert sent.path == "/v1beta/models/gemini-test:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Answer from passages."}]
    assert [c["role"] for c in sent.body["contents"]] == ["user", "model", "user"]
    assert sent.body["generationConfig"]["maxOutputTokens"] == 64


def test_stream_yields_text_deltas_and_returns_usage(gemini: FakeGeminiServer) -> None:
    pieces = _model(gemini).stream(PROMPT, 64)
    texts = []
    with pytest.raises(StopIteration) as end:
        while True:
            texts.append(next(pieces))
    assert "".join(texts).strip() == "Staff park on level minus two [1]."
    assert len(texts) == 7
    assert end.value.value.completion_tokens == 7 and end.value.value.prompt_tokens == 6
    assert gemini.requests[-1].path.startswith("/v1beta/models/gemini-test:streamGenerateContent")


@pytest.mark.parametrize("status", [400, 503])
def test_errors_become_provider_errors_without_the_key(
    gemini: FakeGeminiServer, status: int
) -> None:
    gemini.fail_status = status
    with pytest.raises(ProviderError) as failure:
        _model(gemini, max_retries=1).generate(PROMPT, 64)
    assert f"HTTP {status}" in failure.value.detail and KEY not in failure.value.detail
    assert "Bad key ***" in failure.value.detail
    # 5xx is retried (with backoff), 400 is not.
    assert len(gemini.requests) == (2 if status == 503 else 1)


@pytest.mark.parametrize("hint", ["header", "retry_info"])
def test_retries_wait_as_long_as_the_server_asks(gemini: FakeGeminiServer, hint: str) -> None:
    """A 429 saying "come back in 1 s" is retried after 1 s, not after the 10 ms backoff."""
    gemini.fail_status, gemini.fail_times = 429, 1
    if hint == "header":
        gemini.retry_after = "1"
    else:
        gemini.retry_delay = "1s"
    assert _model(gemini, max_retries=2).generate(PROMPT, 64).text
    first, second = gemini.requests
    assert second.at - first.at >= 0.95


def test_a_stream_is_retried_until_it_starts(gemini: FakeGeminiServer) -> None:
    gemini.fail_status, gemini.fail_times, gemini.retry_after = 503, 1, "0"
    assert "".join(_model(gemini, max_retries=1).stream(PROMPT, 64)).strip()
    assert len(gemini.requests) == 2


def test_a_hint_longer_than_we_wait_ends_the_retries(gemini: FakeGeminiServer) -> None:
    gemini.fail_status, gemini.retry_delay = 429, "3600s"
    with pytest.raises(ProviderError) as failure:
        _model(gemini, max_retries=3).generate(PROMPT, 64)
    assert "HTTP 429" in failure.value.detail
    assert len(gemini.requests) == 1


def test_stream_error_becomes_a_provider_error(gemini: FakeGeminiServer) -> None:
    gemini.fail_status = 500
    with pytest.raises(ProviderError) as failure:
        list(_model(gemini).stream(PROMPT, 64))
    assert "HTTP 500" in failure.value.detail and KEY not in failure.value.detail


def test_registry_builds_gemini_from_settings(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, gemini: FakeGeminiServer
) -> None:
    settings = make_settings(tmp_path, llm__gemini__base_url=gemini.base_url)
    with pytest.raises(ModelUnavailable):
        ModelRegistry(settings.llm, embedder).get("gemini")
    settings.llm.gemini.api_key = SecretStr(KEY)
    model = ModelRegistry(settings.llm, embedder).get("gemini:gemini-2.5-pro")
    assert model.generate(PROMPT, 16).model == "gemini:gemini-2.5-pro"
    assert gemini.requests[-1].path == "/v1beta/models/gemini-2.5-pro:generateContent"
