"""OpenAICompatibleModel through the real llama-index and openai clients to a local fake server."""

from __future__ import annotations

import socket
import threading
import traceback
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import pytest
import tiktoken

from engine.llms.base import ChatMessage, Prompt
from engine.llms.providers.openai_compatible import OpenAICompatibleModel, _usage_of
from kb.errors import ProviderError
from kb.models import Usage
from tests.support.fakes.openai import FakeOpenAIServer

API_KEY = "sk-test-0123456789abcdef"
PROMPT = Prompt(
    messages=[
        ChatMessage("system", "Answer from the passages only."),
        ChatMessage("user", "What is the capital of France?"),
    ],
    question="What is the capital of France?",
)


@pytest.fixture(autouse=True)
def no_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks tiktoken for an encoding (it would download one)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("tiktoken encoding requested")

    monkeypatch.setattr(tiktoken, "get_encoding", forbidden)
    monkeypatch.setattr(tiktoken, "encoding_for_model", forbidden)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="The capital of France is Paris [1].") as fake:
        yield fake


@contextmanager
def make_model(
    server: FakeOpenAIServer,
    api_key: str | None = API_KEY,
    *,
    max_retries: int,
    timeout_s: float = 60.0,
) -> Iterator[OpenAICompatibleModel]:
    model = OpenAICompatibleModel(
        "gpt-test", server.base_url, api_key, timeout_s=timeout_s, max_retries=max_retries
    )
    try:
        yield model
    finally:
        model.close()


@pytest.fixture
def model(server: FakeOpenAIServer) -> Iterator[OpenAICompatibleModel]:
    with make_model(server, max_retries=0) as chat_model:
        yield chat_model


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_reply_and_usage_come_back(model: OpenAICompatibleModel) -> None:
    generation = model.generate(PROMPT, max_tokens=64)

    assert generation.text == "The capital of France is Paris [1]."
    assert generation.model == "openai-compatible:gpt-test"
    assert model.name == "openai-compatible:gpt-test"
    # The fake counts one token per word: 5 + 6 words of prompt, 7 of reply.
    assert generation.usage == Usage(prompt_tokens=11, completion_tokens=7)


def test_request_carries_messages_model_max_tokens_and_key(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    model.generate(PROMPT, max_tokens=42)

    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == "gpt-test"
    assert request.body["max_tokens"] == 42
    assert request.body["temperature"] == 0.0
    assert not request.body.get("stream")
    assert request.body["messages"] == [
        {"role": "system", "content": "Answer from the passages only."},
        {"role": "user", "content": "What is the capital of France?"},
    ]


def test_without_a_key_a_placeholder_is_sent(server: FakeOpenAIServer) -> None:
    with make_model(server, api_key=None, max_retries=0) as model:
        model.generate(PROMPT, max_tokens=8)

    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_missing_usage_gives_unknown_counts(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    server.send_usage = False

    generation = model.generate(PROMPT, max_tokens=8)

    assert generation.text == "The capital of France is Paris [1]."
    assert generation.usage == Usage(prompt_tokens=None, completion_tokens=None)


def test_usage_is_read_from_a_dict_response_too() -> None:
    raw = {"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}

    assert _usage_of(raw) == Usage(prompt_tokens=3, completion_tokens=4)


def test_stream_yields_the_reply_in_pieces(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    pieces = list(model.stream(PROMPT, max_tokens=16))

    assert len(pieces) > 1
    assert "".join(pieces) == "The capital of France is Paris [1]."
    assert server.requests[0].body["stream"] is True


def _drain(stream: Generator[str, None, Usage]) -> tuple[str, Usage]:
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as ended:
            return "".join(pieces), ended.value


def test_stream_returns_the_usage_the_server_reports_last(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    """Regression: streamed answers reported no token usage (none was asked for)."""
    text, usage = _drain(model.stream(PROMPT, max_tokens=16))

    assert text == "The capital of France is Paris [1]."
    assert usage.prompt_tokens and usage.completion_tokens
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


def test_a_server_refusing_stream_options_still_streams_without_usage(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    server.refuse_stream_options = True

    for _ in range(2):
        text, usage = _drain(model.stream(PROMPT, max_tokens=16))
        assert text == "The capital of France is Paris [1]."
        assert usage == Usage()
    sent = [r.body.get("stream_options") for r in server.requests]
    assert sent == [{"include_usage": True}, None, None]  # asked once, then no more


def test_rejected_key_raises_provider_error_without_the_key(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    """The fake echoes the key in its 401 body, as real providers do."""
    server.fail_status = 401

    with pytest.raises(ProviderError) as caught:
        model.generate(PROMPT, max_tokens=8)

    error = caught.value
    assert "401" in error.detail
    assert "Incorrect API key" in error.detail
    assert error.status == 502
    rendered = [
        str(error),
        error.detail,
        repr(error.to_dict()),
        "".join(traceback.format_exception(error)),
    ]
    assert all(API_KEY not in text for text in rendered)


def test_server_error_raises_provider_error_naming_the_status(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    server.fail_status = 500

    with pytest.raises(ProviderError, match="HTTP 500"):
        model.generate(PROMPT, max_tokens=8)


def test_stream_error_raises_provider_error(
    model: OpenAICompatibleModel, server: FakeOpenAIServer
) -> None:
    server.fail_status = 503

    with pytest.raises(ProviderError, match="HTTP 503"):
        list(model.stream(PROMPT, max_tokens=8))


def test_retries_are_not_multiplied(server: FakeOpenAIServer) -> None:
    """llama-index's own retry loop wrapped the openai client's, multiplying attempts."""
    server.fail_status = 500

    with make_model(server, max_retries=2) as model, pytest.raises(ProviderError):
        model.generate(PROMPT, max_tokens=8)

    assert len(server.requests) == 3


def test_slow_server_raises_provider_error(server: FakeOpenAIServer) -> None:
    server.delay_s = 5.0

    with (
        make_model(server, max_retries=0, timeout_s=0.2) as model,
        pytest.raises(ProviderError, match=r"did not answer within 0\.2 s"),
    ):
        model.generate(PROMPT, max_tokens=8)


def test_connection_refused_raises_provider_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    model = OpenAICompatibleModel("gpt-test", url, API_KEY, max_retries=0)

    with pytest.raises(ProviderError, match="could not connect") as caught:
        model.generate(PROMPT, max_tokens=8)

    assert "Connection refused" in caught.value.detail
    assert API_KEY not in caught.value.detail
    model.close()


def test_fake_server_stops_without_leaking_threads() -> None:
    """A keep-alive connection left open by the client must not keep a handler thread alive."""
    before = set(threading.enumerate())
    with FakeOpenAIServer() as fake:
        model = OpenAICompatibleModel("gpt-test", fake.base_url, API_KEY, max_retries=0)
        list(model.stream(PROMPT, max_tokens=8))
        model.generate(PROMPT, max_tokens=8)
        # The pooled keep-alive connection holds a handler thread next to the serving one.
        assert len(set(threading.enumerate()) - before) == 2

    assert set(threading.enumerate()) - before == set()
    model.close()
