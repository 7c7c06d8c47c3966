"""Ollama models through the real ``ollama`` client, pointed at a local ``/api/chat`` server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.llms.base import ChatMessage, Prompt
from engine.llms.providers.ollama import OllamaModel
from engine.llms.registry import ModelRegistry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import ProviderError
from tests.conftest import make_settings
from tests.support.fakes.ollama import FakeOllamaServer

PROMPT = Prompt(
    messages=[ChatMessage("system", "Answer from passages."), ChatMessage("user", "Where?")],
    question="Where?",
)


@pytest.fixture
def server() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer(reply="Staff park on level minus two [1].") as fake:
        yield fake


def _model(server: FakeOllamaServer) -> OllamaModel:
    return OllamaModel("llama-test", server.host, timeout_s=5, max_retries=2, backoff_s=0.01)


def test_generate_sends_messages_and_token_limit_and_reports_usage(
    server: FakeOllamaServer,
) -> None:
    generation = _model(server).generate(PROMPT, 64)
    assert generation.text == "Staff park on level minus two [1]."
    assert generation.model == "ollama:llama-test"
    assert generation.usage.prompt_tokens == 4 and generation.usage.completion_tokens == 7
    sent = server.requests[-1]
    assert sent.body["model"] == "llama-test" and sent.body["stream"] is False
    assert sent.body["messages"][0] == {"role": "system", "content": "Answer from passages."}
    assert sent.body["options"]["num_predict"] == 64


def test_stream_yields_pieces_and_returns_usage(server: FakeOllamaServer) -> None:
    pieces = _model(server).stream(PROMPT, 64)
    texts = []
    with pytest.raises(StopIteration) as end:
        while True:
            texts.append(next(pieces))
    assert "".join(texts).strip() == "Staff park on level minus two [1]."
    assert len(texts) == 7 and end.value.value.completion_tokens == 7


def test_busy_server_is_retried_then_answers(server: FakeOllamaServer) -> None:
    server.failures = [503, 429]
    assert _model(server).generate(PROMPT, 64).text.startswith("Staff park")
    assert len(server.requests) == 3


def test_retries_wait_as_long_as_retry_after_asks(server: FakeOllamaServer) -> None:
    """A proxy or Ollama's cloud in front of the model may say when to come back."""
    server.failures, server.retry_after = [429], "1"
    assert _model(server).generate(PROMPT, 64).text.startswith("Staff park")
    first, second = (request.at for request in server.requests)
    assert second - first >= 0.95
    # Asked to wait longer than a question can: failed at once, not retried.
    server.failures, server.retry_after = [503], "3600"
    server.clear()
    with pytest.raises(ProviderError, match="HTTP 503"):
        _model(server).generate(PROMPT, 64)
    assert len(server.requests) == 1


def test_errors_become_provider_errors(server: FakeOllamaServer) -> None:
    server.failures = [404]
    with pytest.raises(ProviderError, match="HTTP 404"):
        _model(server).generate(PROMPT, 64)
    server.failures = [500, 500, 500]
    with pytest.raises(ProviderError, match="HTTP 500"):
        _model(server).generate(PROMPT, 64)
    server.failures = [500]
    with pytest.raises(ProviderError, match="HTTP 500"):
        list(_model(server).stream(PROMPT, 64))


def test_registry_builds_ollama_models_from_settings(
    server: FakeOllamaServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path, llm__ollama__base_url=server.host)
    model = ModelRegistry(settings.llm, embedder).get("ollama:qwen-test")
    assert model.generate(PROMPT, 16).model == "ollama:qwen-test"
    assert server.requests[-1].body["model"] == "qwen-test"
