"""Mistral through the real ``mistralai`` client, pointed at a local chat-completions server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.llms.base import ChatMessage, Prompt
from engine.llms.providers.mistral import MistralModel
from engine.llms.registry import ModelRegistry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import ModelUnavailable, ProviderError
from tests.conftest import make_settings
from tests.support.fakes.mistral import FakeMistralServer

KEY = "mistral-secret-test-key"
PROMPT = Prompt(
    messages=[ChatMessage("system", "Answer from passages."), ChatMessage("user", "Where?")],
    question="Where?",
)


@pytest.fixture
def mistral() -> Iterator[FakeMistralServer]:
    with FakeMistralServer(reply="Staff park on level minus two [1].") as server:
        yield server


def _model(server: FakeMistralServer, max_retries: int = 0) -> MistralModel:
    return MistralModel(
        "mistral-test", KEY, server.base_url, timeout_s=5, max_retries=max_retries, backoff_s=0
    )


def test_generate_sends_the_messages_and_reports_usage(mistral: FakeMistralServer) -> None:
    generation = _model(mistral).generate(PROMPT, 64)
    assert generation.text == "Staff park on level minus two [1]."
    assert generation.model == "mistral:mistral-test"
    assert generation.usage.prompt_tokens == 4 and generation.usage.completion_tokens == 7
    sent = mistral.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "mistral-test" and sent.body["max_tokens"] == 64
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]


def test_stream_yields_text_deltas_and_returns_usage(mistral: FakeMistralServer) -> None:
    pieces = _model(mistral).stream(PROMPT, 64)
    texts = []
    with pytest.raises(StopIteration) as end:
        while True:
            texts.append(next(pieces))
    assert "".join(texts).strip() == "Staff park on level minus two [1]."
    assert len(texts) == 7
    assert end.value.value.completion_tokens == 7 and end.value.value.prompt_tokens == 4
    assert mistral.requests[-1].body["stream"] is True


@pytest.mark.parametrize("status", [401, 503])
def test_errors_become_provider_errors_without_the_key(
    mistral: FakeMistralServer, status: int
) -> None:
    mistral.fail_status = status
    with pytest.raises(ProviderError) as failure:
        _model(mistral, max_retries=1).generate(PROMPT, 64)
    assert f"HTTP {status}" in failure.value.detail and KEY not in failure.value.detail
    assert "Refused for key ***" in failure.value.detail
    # 5xx is retried (with backoff), 401 is not.
    assert len(mistral.requests) == (2 if status == 503 else 1)


def test_retries_wait_as_long_as_retry_after_asks(mistral: FakeMistralServer) -> None:
    mistral.fail_status, mistral.fail_times, mistral.retry_after = 429, 1, "1"
    assert _model(mistral, max_retries=2).generate(PROMPT, 64).text
    first, second = mistral.requests
    assert second.at - first.at >= 0.95


def test_stream_error_becomes_a_provider_error(mistral: FakeMistralServer) -> None:
    mistral.fail_status = 500
    with pytest.raises(ProviderError) as failure:
        list(_model(mistral).stream(PROMPT, 64))
    assert "HTTP 500" in failure.value.detail and KEY not in failure.value.detail


def test_registry_builds_mistral_from_settings(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, mistral: FakeMistralServer
) -> None:
    settings = make_settings(tmp_path, llm__mistral__base_url=mistral.base_url)
    with pytest.raises(ModelUnavailable):
        ModelRegistry(settings.llm, embedder).get("mistral")
    settings.llm.mistral.api_key = SecretStr(KEY)
    model = ModelRegistry(settings.llm, embedder).get("mistral:mistral-large-latest")
    assert model.generate(PROMPT, 16).model == "mistral:mistral-large-latest"
    assert mistral.requests[-1].body["model"] == "mistral-large-latest"
