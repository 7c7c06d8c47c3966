"""OpenAI's own API ('openai' models) through the real ``openai`` client, pointed at a fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.llms.base import ChatMessage, Prompt
from engine.llms.registry import ModelRegistry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import ModelUnavailable, ProviderError
from kb.settings import LLMSettings
from tests.conftest import make_settings
from tests.support.fakes.openai import FakeOpenAIServer

KEY = "sk-openai-secret-test-key"
PROMPT = Prompt(
    messages=[ChatMessage("system", "Answer from passages."), ChatMessage("user", "Where?")],
    question="Where?",
)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="Staff park on level minus two [1].") as fake:
        yield fake


@pytest.fixture
def llm_settings(tmp_path: Path, server: FakeOpenAIServer) -> LLMSettings:
    settings = make_settings(tmp_path, llm__openai__base_url=server.base_url).llm
    settings.openai.api_key = SecretStr(KEY)
    settings.max_retries = 0
    return settings


def test_openai_model_sends_its_own_key_and_reports_usage(
    llm_settings: LLMSettings, embedder: SentenceTransformerEmbedder, server: FakeOpenAIServer
) -> None:
    model = ModelRegistry(llm_settings, embedder).get("openai:gpt-4o")
    generation = model.generate(PROMPT, 32)
    assert generation.text == "Staff park on level minus two [1]."
    assert generation.model == "openai:gpt-4o"
    assert generation.usage.completion_tokens is not None
    sent = server.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-4o" and sent.body["max_tokens"] == 32


def test_openai_model_streams(
    llm_settings: LLMSettings, embedder: SentenceTransformerEmbedder
) -> None:
    model = ModelRegistry(llm_settings, embedder).get("openai")
    stream = getattr(model, "stream")  # noqa: B009 - the protocol's optional method
    assert "".join(stream(PROMPT, 32)).strip() == "Staff park on level minus two [1]."
    assert model.name == "openai:gpt-4o-mini"


def test_openai_errors_name_openai_and_hide_the_key(
    llm_settings: LLMSettings, embedder: SentenceTransformerEmbedder, server: FakeOpenAIServer
) -> None:
    server.fail_status = 401
    with pytest.raises(ProviderError) as failure:
        ModelRegistry(llm_settings, embedder).get("openai:gpt-4o").generate(PROMPT, 32)
    assert failure.value.detail.startswith("OpenAI API at ")
    assert "HTTP 401" in failure.value.detail and KEY not in failure.value.detail


def test_openai_needs_its_own_key(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    settings = make_settings(tmp_path).llm
    # The openai-compatible server's key is not sent to OpenAI.
    settings.openai_compatible.api_key = SecretStr("sk-for-the-local-server")
    with pytest.raises(ModelUnavailable, match="KB_LLM__OPENAI__API_KEY"):
        ModelRegistry(settings, embedder).get("openai:gpt-4o")
