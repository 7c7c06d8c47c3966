"""Fixtures of the API tests: the OpenAI-speaking provider stand-in and settings pointing the
openai-compatible answering model at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.fakes.openai import FakeOpenAIServer


@pytest.fixture
def provider() -> Iterator[FakeOpenAIServer]:
    """A provider stand-in speaking OpenAI's wire protocol on 127.0.0.1."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def stand_in_settings(tmp_path: Path, provider: FakeOpenAIServer) -> Settings:
    """Default settings, with the openai-compatible model (``gpt-test``) on the stand-in."""
    return make_settings(
        tmp_path / "data",
        llm__openai_compatible__base_url=provider.base_url,
        llm__openai_compatible__model="gpt-test",
    )
