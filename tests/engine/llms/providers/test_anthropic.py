"""Claude through the real ``anthropic`` client, pointed at a local Messages API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from engine.llms.base import ChatMessage, Prompt
from engine.llms.providers.anthropic import AnthropicModel
from engine.llms.registry import ModelRegistry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import ModelUnavailable, ProviderError
from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.fakes.anthropic import FakeAnthropicServer
from tests.support.sse_client import read_events

KEY = "sk-ant-secret-test-key"
PROMPT = Prompt(
    messages=[ChatMessage("system", "Answer from passages."), ChatMessage("user", "Where?")],
    question="Where?",
)


@pytest.fixture
def claude() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(reply="Staff park on level minus two [1].") as server:
        yield server


def _model(server: FakeAnthropicServer, max_retries: int = 0) -> AnthropicModel:
    return AnthropicModel("claude-test", KEY, server.base_url, timeout_s=5, max_retries=max_retries)


def test_generate_sends_the_system_prompt_apart_and_reports_usage(
    claude: FakeAnthropicServer,
) -> None:
    generation = _model(claude).generate(PROMPT, 64)
    assert generation.text == "Staff park on level minus two [1]."
    assert generation.model == "anthropic:claude-test"
    assert generation.usage.prompt_tokens == 4 and generation.usage.completion_tokens == 7
    sent = claude.requests[-1]
    # The client sends the key as x-api-key or (newer versions) as a bearer token.
    assert KEY in sent.headers.get("x-api-key", sent.headers.get("authorization", ""))
    assert sent.body["system"] == "Answer from passages."
    assert sent.body["messages"] == [{"role": "user", "content": "Where?"}]
    assert sent.body["max_tokens"] == 64


def test_stream_yields_text_deltas_and_returns_usage(claude: FakeAnthropicServer) -> None:
    pieces = _model(claude).stream(PROMPT, 64)
    texts = []
    with pytest.raises(StopIteration) as end:
        while True:
            texts.append(next(pieces))
    assert "".join(texts).strip() == "Staff park on level minus two [1]."
    assert len(texts) == 7
    assert end.value.value.completion_tokens == 7


@pytest.mark.parametrize("status", [401, 500])
def test_errors_become_provider_errors_without_the_key(
    claude: FakeAnthropicServer, status: int
) -> None:
    claude.fail_status = status
    with pytest.raises(ProviderError) as failure:
        _model(claude, max_retries=1).generate(PROMPT, 64)
    assert f"HTTP {status}" in failure.value.detail and KEY not in failure.value.detail
    # 5xx is retried by the client (with backoff), 401 is not.
    assert len(claude.requests) == (2 if status == 500 else 1)


def test_registry_needs_a_key(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ModelUnavailable):
        ModelRegistry(make_settings(tmp_path).llm, embedder).get("anthropic")


@pytest.fixture
def settings(tmp_path: Path, claude: FakeAnthropicServer) -> Settings:
    """Default settings with the anthropic models pointed at the fake server."""
    settings = make_settings(tmp_path / "data", llm__anthropic__base_url=claude.base_url)
    settings.llm.anthropic.api_key = SecretStr(KEY)
    return settings


def test_streamed_query_through_claude_reports_usage(
    live_server: str, claude: FakeAnthropicServer, auth_headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=live_server, headers=auth_headers, timeout=30) as http:
        kb = http.post("/v1/kbs", json={"name": "office"}).json()["id"]
        text = "# Parking\n\nStaff parking is on level minus two of the garage."
        http.post(f"/v1/kbs/{kb}/documents", json={"title": "Parking", "text": text})
        body = {"question": "Where do staff park?", "model": "anthropic:claude-x", "stream": True}
        with http.stream("POST", f"/v1/kbs/{kb}/query", json=body) as response:
            events = list(read_events(response))
    done = events[-1].data
    assert done["model"] == "anthropic:claude-x" and done["grounded"] is True
    assert done["usage"]["completion_tokens"] == 7 and done["usage"]["prompt_tokens"] > 0
    assert claude.requests[-1].body["model"] == "claude-x"
    assert [c["number"] for c in events[-2].data["citations"]] == [1]
