"""The answering model's settings: one nested section per provider, read from real environment
variables, and the previous release's flat names still read, each with a warning."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.settings import Settings
from kb.settings.llm import LLMSettings, legacy_env_names


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No KB_ variable and no .env file but the test's own."""
    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def _value(settings: Settings, env_name: str) -> object:
    """The value of the setting ``env_name`` names, e.g. KB_LLM__OLLAMA__BASE_URL."""
    target: object = settings
    for part in env_name.removeprefix("KB_").lower().split("__"):
        target = getattr(target, part)
    secret = getattr(target, "get_secret_value", None)
    return secret() if secret else target


def test_nested_names_set_each_providers_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_LLM__ANTHROPIC__API_KEY", "sk-ant-nested")
    monkeypatch.setenv("KB_LLM__OPENAI_COMPATIBLE__BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("KB_LLM__OPENAI__MODEL", "gpt-4o")
    monkeypatch.setenv("KB_LLM__OLLAMA__BASE_URL", "http://ollama.internal:11434")
    monkeypatch.setenv("KB_LLM__LOCAL__MODEL_PATH", "/models/tiny.gguf")

    llm = Settings().llm

    assert llm.anthropic.api_key is not None
    assert llm.anthropic.api_key.get_secret_value() == "sk-ant-nested"
    assert llm.openai_compatible.base_url == "http://127.0.0.1:8080/v1"
    assert llm.openai.model == "gpt-4o"
    assert llm.openai.base_url == "https://api.openai.com/v1"  # the rest keep their defaults
    assert llm.ollama.base_url == "http://ollama.internal:11434"
    assert llm.local.model_path == Path("/models/tiny.gguf")


def test_defaults_are_those_of_the_flat_settings_they_replace() -> None:
    llm = LLMSettings()
    assert (llm.openai.base_url, llm.openai.model) == ("https://api.openai.com/v1", "gpt-4o-mini")
    assert (llm.openai_compatible.base_url, llm.openai_compatible.model) == (None, "gpt-4o-mini")
    assert llm.anthropic.model == "claude-sonnet-4-5"
    assert llm.mistral.model == "mistral-small-latest"
    assert llm.gemini.model == "gemini-2.5-flash"
    assert (llm.ollama.base_url, llm.ollama.model) == ("http://127.0.0.1:11434", "llama3.2")
    assert llm.local.model_path is None
    sections = [llm.openai, llm.openai_compatible, llm.anthropic, llm.gemini, llm.mistral]
    assert all(section.api_key is None for section in [*sections, llm.ollama])


@pytest.mark.parametrize(("old", "new"), sorted(legacy_env_names().items()))
def test_a_flat_name_of_the_last_release_still_works_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, old: str, new: str
) -> None:
    value = "/models/old.gguf" if new.endswith("MODEL_PATH") else "http://old.example/v1"
    monkeypatch.setenv(old, value)

    with caplog.at_level(logging.WARNING, logger="kb.settings"):
        settings = Settings()

    assert str(_value(settings, new)) == value
    (warning,) = [r for r in caplog.records if r.name == "kb.settings"]
    assert warning.levelno == logging.WARNING
    assert old in warning.getMessage() and new in warning.getMessage()


def test_the_renames_that_are_not_mechanical() -> None:
    """OPENAI_* was the compatible server, OPENAI_PLATFORM_* OpenAI; OLLAMA_HOST a base URL."""
    names = legacy_env_names()
    assert names["KB_LLM__OPENAI_BASE_URL"] == "KB_LLM__OPENAI_COMPATIBLE__BASE_URL"
    assert names["KB_LLM__OPENAI_API_KEY"] == "KB_LLM__OPENAI_COMPATIBLE__API_KEY"
    assert names["KB_LLM__OPENAI_PLATFORM_API_KEY"] == "KB_LLM__OPENAI__API_KEY"
    assert names["KB_LLM__OLLAMA_HOST"] == "KB_LLM__OLLAMA__BASE_URL"
    assert names["KB_LLM__LOCAL_MODEL_PATH"] == "KB_LLM__LOCAL__MODEL_PATH"


def test_the_new_name_wins_over_the_old_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KB_LLM__ANTHROPIC_API_KEY", "sk-ant-old")
    monkeypatch.setenv("KB_LLM__ANTHROPIC__API_KEY", "sk-ant-new")
    monkeypatch.setenv("KB_LLM__ANTHROPIC__MODEL", "claude-opus-4")

    with caplog.at_level(logging.WARNING, logger="kb.settings"):
        anthropic = Settings().llm.anthropic

    assert anthropic.api_key is not None
    assert anthropic.api_key.get_secret_value() == "sk-ant-new"
    assert anthropic.model == "claude-opus-4"  # the section's other fields are kept
    assert "KB_LLM__ANTHROPIC_API_KEY is deprecated and ignored" in caplog.text
    assert "sk-ant-old" not in caplog.text and "sk-ant-new" not in caplog.text


def test_flat_names_in_a_dotenv_file_are_read_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".env").write_text("KB_LLM__OLLAMA_HOST=http://from-dotenv:11434\n")

    with caplog.at_level(logging.WARNING, logger="kb.settings"):
        settings = Settings()

    assert settings.llm.ollama.base_url == "http://from-dotenv:11434"
    assert "use KB_LLM__OLLAMA__BASE_URL" in caplog.text


def test_current_names_log_no_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KB_LLM__MISTRAL__API_KEY", "mk-test")
    with caplog.at_level(logging.WARNING, logger="kb.settings"):
        Settings()
    assert not [r for r in caplog.records if r.name == "kb.settings"]
