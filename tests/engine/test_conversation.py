"""Follow-up rewriting: the deterministic rules, and the chat-model path with its fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.llms.registry import ModelRegistry
from engine.rewrite import QuestionRewriter, Turn, is_follow_up, key_terms, rewrite_with_rules
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import make_settings
from tests.support.fakes.openai import FakeOpenAIServer

HISTORY = [
    Turn("user", "What is the Aurora lamp?"),
    Turn("assistant", "The Aurora lamp is a bedside lamp [1]."),
]


@pytest.mark.parametrize(
    "question",
    ["and how much does it cost?", "What about shipping?", "Price?", "Is it dimmable?"],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    ["How do I reset my account password?", "Which heater warms the largest rooms?"],
)
def test_standalone_questions_are_left_alone(question: str) -> None:
    assert not is_follow_up(question)
    assert rewrite_with_rules(question, HISTORY) == question


def test_follow_up_carries_the_previous_questions_key_terms() -> None:
    assert rewrite_with_rules("and how much does it cost?", HISTORY) == (
        "and how much does it cost? (Aurora lamp)"
    )


def test_a_chain_of_follow_ups_keeps_the_original_subject() -> None:
    first = rewrite_with_rules("and how much does it cost?", HISTORY)
    history = [*HISTORY, Turn("user", "and how much does it cost?", standalone=first)]
    assert "Aurora" in rewrite_with_rules("Is it dimmable?", history)


def test_without_history_nothing_is_rewritten() -> None:
    assert rewrite_with_rules("and how much does it cost?", []) == "and how much does it cost?"
    assert key_terms("What is the price of the Aurora lamp?") == ["price", "Aurora", "lamp"]


@pytest.fixture
def provider() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def _models(
    tmp_path: Path, provider: FakeOpenAIServer, embedder: SentenceTransformerEmbedder
) -> ModelRegistry:
    settings = make_settings(tmp_path, llm__openai_compatible__base_url=provider.base_url)
    return ModelRegistry(settings.llm, embedder)


def test_chat_model_rewrites_and_extractive_uses_rules(
    tmp_path: Path, provider: FakeOpenAIServer, embedder: SentenceTransformerEmbedder
) -> None:
    rewriter = QuestionRewriter(_models(tmp_path, provider, embedder))
    provider.reply = '"How much does the Aurora lamp cost?"'
    question = "and how much does it cost?"
    assert rewriter.standalone(question, HISTORY, "openai-compatible") == (
        "How much does the Aurora lamp cost?"
    )
    assert len(provider.requests) == 1
    assert rewriter.standalone(question, HISTORY, "extractive").endswith("(Aurora lamp)")
    assert len(provider.requests) == 1  # no model call for the extractive answerer


def test_failing_chat_model_falls_back_to_rules(
    tmp_path: Path, provider: FakeOpenAIServer, embedder: SentenceTransformerEmbedder
) -> None:
    provider.fail_status = 500
    rewriter = QuestionRewriter(_models(tmp_path, provider, embedder))
    rewritten = rewriter.standalone("and how much does it cost?", HISTORY, "openai-compatible")
    assert rewritten == "and how much does it cost? (Aurora lamp)"
