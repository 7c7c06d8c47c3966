"""Streaming answers over a real uvicorn server: deltas, checked citations, done, disconnects."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import httpx
import pytest

from api.container import Container
from engine.answer import QueryService
from engine.llms.base import Generation, Prompt
from engine.llms.registry import ModelRegistry
from kb.errors import ProviderError
from kb.settings import Settings
from tests.support.fakes.openai import FakeOpenAIServer
from tests.support.sse_client import Event, read_events

DOC = "# Parking\n\nStaff parking is on level minus two of the garage. Visitors park outside."


@pytest.fixture
def settings(stand_in_settings: Settings) -> Settings:
    """Default settings, the openai-compatible model on the provider stand-in."""
    return stand_in_settings


@pytest.fixture
def kb(live_server: str, auth_headers: dict[str, str]) -> str:
    # A hang guard, not a limit: a loaded machine or a first import may take over 5 s.
    with httpx.Client(base_url=live_server, headers=auth_headers, timeout=60) as http:
        kb_id: str = http.post("/v1/kbs", json={"name": "office"}).json()["id"]
        http.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Parking", "text": DOC})
    return kb_id


def _stream(
    base: str, kb_id: str, headers: dict[str, str], **body: object
) -> tuple[httpx.Response, list[Event]]:
    with httpx.stream(
        "POST",
        f"{base}/v1/kbs/{kb_id}/query",
        json={"stream": True, **body},
        headers=headers,
        timeout=30,
    ) as response:
        return response, list(read_events(response))


def test_extractive_answer_streams_deltas_then_verdict_citations_done(
    live_server: str, kb: str, auth_headers: dict[str, str]
) -> None:
    response, events = _stream(live_server, kb, auth_headers, question="Where do staff park?")
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [e.name for e in events]
    assert names[-3:] == ["verdict", "citations", "done"] and set(names[:-3]) == {"delta"}
    done, verdict = events[-1].data, events[-3].data
    assert done["model"] == "extractive" and done["grounded"] is True
    assert "".join(e.data["text"] for e in events[:-3]).strip() == done["answer"]
    assert verdict["replaced"] is False and verdict["answer"] == done["answer"]
    assert verdict["claims"] and all(c["supported"] for c in verdict["claims"])
    assert "level minus two" in done["answer"]
    plain = httpx.post(
        f"{live_server}/v1/kbs/{kb}/query",
        json={"question": "Where do staff park?"},
        headers=auth_headers,
    )
    assert events[-2].data["citations"] == plain.json()["citations"]
    assert done["usage"] == plain.json()["usage"]


def test_remote_model_streams_token_deltas_with_bad_markers_removed(
    live_server: str, kb: str, auth_headers: dict[str, str], provider: FakeOpenAIServer
) -> None:
    provider.reply = "Staff park on level minus two [1]. See also [4]."
    _response, events = _stream(
        live_server, kb, auth_headers, question="Where do staff park?", model="openai-compatible"
    )
    deltas = [e.data["text"] for e in events if e.name == "delta"]
    assert len(deltas) > 3  # word by word, as the provider sent them
    assert "[4]" not in "".join(deltas) and "[1]" in "".join(deltas)
    verdict, citations, done = events[-3].data, events[-2].data, events[-1].data
    assert [c["number"] for c in citations["citations"]] == [1]
    # "See also." is a claim no passage supports: streamed, then dropped by the verdict.
    assert "See also" in "".join(deltas)
    assert done["answer"] == verdict["answer"] == "Staff park on level minus two [1]."
    assert verdict["replaced"] is True and verdict["dropped"] == 1
    assert [c["supported"] for c in verdict["claims"]] == [True, False]
    assert done["model"] == "openai-compatible:gpt-test" and done["grounded"] is True
    assert provider.requests[-1].body["stream"] is True


def test_errors_before_the_stream_starts_are_json_problems(
    live_server: str, kb: str, auth_headers: dict[str, str], provider: FakeOpenAIServer
) -> None:
    unknown_model = httpx.post(
        f"{live_server}/v1/kbs/{kb}/query",
        json={"question": "Where?", "model": "nope", "stream": True},
        headers=auth_headers,
    )
    assert unknown_model.status_code == 400
    assert unknown_model.headers["content-type"] == "application/problem+json"
    provider.fail_status = 401
    failing = httpx.post(
        f"{live_server}/v1/kbs/{kb}/query",
        json={"question": "Where do staff park?", "model": "openai-compatible", "stream": True},
        headers=auth_headers,
        timeout=30,
    )
    assert failing.status_code == 502 and failing.json()["code"] == "provider_error"
    missing = httpx.post(
        f"{live_server}/v1/kbs/kb_missing/query",
        json={"question": "Where?", "stream": True},
        headers=auth_headers,
    )
    assert missing.status_code == 404 and missing.json()["code"] == "kb_not_found"


class _ScriptedModel:
    """A model that streams ``pieces`` slowly, optionally failing after some, and records how
    far it got and whether it was stopped."""

    name = "scripted"

    def __init__(self, pieces: int, fail_after: int | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.produced = 0
        self.closed = threading.Event()

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        return Generation("unused", self.name)

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, None]:
        try:
            for _ in range(self.pieces):
                if self.fail_after is not None and self.produced >= self.fail_after:
                    raise ProviderError("the provider dropped the stream", model=self.name)
                time.sleep(0.02)
                self.produced += 1
                yield "word "
        finally:
            self.closed.set()


class _Only(ModelRegistry):
    """A registry that answers every model name with one model."""

    def __init__(self, model: _ScriptedModel) -> None:
        self._model = model

    def get(self, spec: str | None = None) -> _ScriptedModel:  # type: ignore[override]
        return self._model


def _use(container: Container, model: _ScriptedModel) -> None:
    container.queries = QueryService(container.registry, container.retriever, _Only(model), 256)


def test_client_disconnect_stops_generation(
    live_server: str, kb: str, auth_headers: dict[str, str], container: Container
) -> None:
    model = _ScriptedModel(pieces=1000)
    _use(container, model)
    with httpx.stream(
        "POST",
        f"{live_server}/v1/kbs/{kb}/query",
        json={"question": "Where do staff park?", "stream": True},
        headers=auth_headers,
    ) as response:
        first = next(read_events(response))
        assert first.name == "delta"
    # Leaving the block closes the connection mid-stream.
    assert model.closed.wait(10), "the model kept generating after the client left"
    assert model.produced < 1000


def test_failure_mid_stream_is_an_error_event(
    live_server: str, kb: str, auth_headers: dict[str, str], container: Container
) -> None:
    _use(container, _ScriptedModel(pieces=10, fail_after=3))
    _response, events = _stream(live_server, kb, auth_headers, question="Where do staff park?")
    assert [e.name for e in events] == ["delta"] * 3 + ["error"]
    assert events[-1].data["code"] == "provider_error" and events[-1].data["status"] == 502
