"""Fallback chains: when a model fails, the next one answers and the answer names it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from engine.llms.base import ChatMessage, Prompt
from engine.llms.fallback import FallbackModel
from engine.llms.registry import ModelRegistry
from engine.streaming import ModelRun, model_pieces
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import InvalidInput, ProviderError
from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.fakes.mistral import FakeMistralServer
from tests.support.fakes.openai import FakeOpenAIServer

OPENAI_KEY = "sk-openai-secret-test-key"
PROMPT = Prompt(messages=[ChatMessage("user", "Where?")], question="Where?")


@pytest.fixture
def broken_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.fail_status = 503
        yield server


@pytest.fixture
def mistral() -> Iterator[FakeMistralServer]:
    with FakeMistralServer(reply="Staff park on level minus two [1].") as server:
        yield server


@pytest.fixture
def settings(
    tmp_path: Path, broken_openai: FakeOpenAIServer, mistral: FakeMistralServer
) -> Settings:
    """OpenAI pointed at a server that always fails, Mistral at one that works."""
    settings = make_settings(
        tmp_path / "data",
        llm__openai__base_url=broken_openai.base_url,
        llm__mistral__base_url=mistral.base_url,
        llm__max_retries=0,
    )
    settings.llm.openai.api_key = SecretStr(OPENAI_KEY)
    settings.llm.mistral.api_key = SecretStr("mistral-test-key")
    return settings


def test_the_next_model_answers_when_the_first_fails(
    settings: Settings, embedder: SentenceTransformerEmbedder, broken_openai: FakeOpenAIServer
) -> None:
    model = ModelRegistry(settings.llm, embedder).get("openai:gpt-4o, mistral:mistral-small")
    generation = model.generate(PROMPT, 32)
    assert generation.model == "mistral:mistral-small"
    assert generation.text == "Staff park on level minus two [1]."
    assert len(broken_openai.requests) == 1


def test_a_stream_falls_back_before_its_first_piece_and_reports_the_model_used(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    model = ModelRegistry(settings.llm, embedder).get("openai,mistral")
    run = ModelRun(model.name)
    text = "".join(model_pieces(model, PROMPT, 32, run))
    assert text.strip() == "Staff park on level minus two [1]."
    assert run.model == "mistral:mistral-small-latest"
    assert run.usage.completion_tokens == 7


def test_unconfigured_models_are_skipped(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """A chain may name a provider without a key here (anthropic): it is passed over."""
    model = ModelRegistry(settings.llm, embedder).get("anthropic,mistral")
    assert model.name == "mistral:mistral-small-latest"
    assert model.generate(PROMPT, 32).model == "mistral:mistral-small-latest"


def test_the_setting_adds_fallbacks_to_every_choice(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    settings.llm.fallback = "mistral, extractive"
    model = ModelRegistry(settings.llm, embedder).get("openai")
    assert isinstance(model, FallbackModel)
    assert model.specs == ["openai", "mistral", "extractive"]
    assert model.generate(PROMPT, 32).model == "mistral:mistral-small-latest"


def test_when_every_model_fails_the_last_error_is_raised_without_keys(
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    mistral: FakeMistralServer,
) -> None:
    mistral.fail_status = 500
    with pytest.raises(ProviderError) as failure:
        ModelRegistry(settings.llm, embedder).get("openai,mistral").generate(PROMPT, 32)
    assert failure.value.detail.startswith("Mistral API") and "HTTP 500" in failure.value.detail
    assert OPENAI_KEY not in failure.value.detail


def test_an_unknown_model_in_a_chain_is_refused_at_once(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    with pytest.raises(InvalidInput):
        ModelRegistry(settings.llm, embedder).get("mistral,gpt-5-turbo")


def test_query_answer_names_the_model_that_answered(client: TestClient) -> None:
    kb = client.post("/v1/kbs", json={"name": "office"}).json()["id"]
    text = "# Parking\n\nStaff parking is on level minus two of the garage."
    client.post(f"/v1/kbs/{kb}/documents", json={"title": "Parking", "text": text})
    body = {"question": "Where do staff park?", "model": "openai:gpt-4o,mistral"}
    answer = client.post(f"/v1/kbs/{kb}/query", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "mistral:mistral-small-latest"
    assert answer.json()["grounded"] is True
