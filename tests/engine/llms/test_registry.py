"""The model registry: providers listed by their specs, and every one resolved alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.llms.base import AnswerModel, Generation, Prompt
from engine.llms.local import LocalModel
from engine.llms.providers.base import ProviderConfig, ProviderSpec
from engine.llms.registry import CREDENTIAL_PROVIDERS, SPECS, ModelRegistry
from kb.access.credentials import ProviderSecret
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import InvalidInput, ModelUnavailable
from kb.settings import LLMSettings, Settings
from kb.settings.llm import ProviderSettings
from tests.conftest import run_python

STORED = ProviderSecret("sk-stored-1234", "http://stored.example/v1", "v1")


def test_the_built_in_providers() -> None:
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names))
    assert sorted(names) == [
        "anthropic",
        "extractive",
        "gemini",
        "local",
        "mistral",
        "ollama",
        "openai",
        "openai-compatible",
    ]
    assert set(CREDENTIAL_PROVIDERS) == {
        "openai",
        "anthropic",
        "gemini",
        "mistral",
        "ollama",
        "openai-compatible",
    }


@pytest.mark.parametrize("spec", [s for s in SPECS if s.settings], ids=lambda s: s.name)
def test_each_spec_names_its_settings_section(spec: ProviderSpec) -> None:
    assert spec.settings in LLMSettings.model_fields


@pytest.mark.parametrize("spec", [s for s in SPECS if s.key_env], ids=lambda s: s.name)
def test_each_key_variable_sets_that_providers_key(
    spec: ProviderSpec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert spec.key_env == spec.env_var("api_key")
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv(str(spec.key_env), "sk-from-the-environment")
    section = getattr(Settings().llm, str(spec.settings))
    assert section.api_key.get_secret_value() == "sk-from-the-environment"


def test_a_key_or_stored_credential_needs_a_providers_section() -> None:
    for spec in SPECS:
        if spec.key_required or spec.base_url_required or spec.stored_credentials:
            field = LLMSettings.model_fields[str(spec.settings)]
            assert isinstance(field.annotation, type)
            assert issubclass(field.annotation, ProviderSettings), spec.name
            assert spec.key_env, spec.name


def test_importing_the_registry_loads_no_client_library() -> None:
    """Every provider module is imported for its spec; the clients load on first use."""
    loaded = run_python(
        "import sys, engine.llms.registry\n"
        "heavy = ('anthropic', 'google.genai', 'mistralai', 'ollama', 'openai', 'llama_index',"
        " 'transformers', 'torch')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert loaded == "[]"


def test_environment_credentials_of_the_default_settings(
    embedder: SentenceTransformerEmbedder,
) -> None:
    registry = ModelRegistry(LLMSettings(), embedder)
    assert registry.environment_credential("openai") == (False, "https://api.openai.com/v1")
    assert registry.environment_credential("anthropic") == (False, None)
    assert registry.environment_credential("openai-compatible") == (False, None)
    # Ollama needs no key: its default address configures it.
    assert registry.environment_credential("ollama") == (True, "http://127.0.0.1:11434")
    assert registry.environment_credential("no-such-provider") == (False, None)


def test_environment_credentials_follow_the_settings(
    embedder: SentenceTransformerEmbedder,
) -> None:
    settings = LLMSettings()
    settings.gemini.api_key = SecretStr("gk-test")
    settings.openai_compatible.base_url = "http://127.0.0.1:8080/v1"
    settings.ollama.base_url = ""
    registry = ModelRegistry(settings, embedder)
    assert registry.environment_credential("gemini") == (True, None)
    assert registry.environment_credential("openai-compatible") == (
        True,
        settings.openai_compatible.base_url,
    )
    assert registry.environment_credential("ollama") == (False, "")


def test_a_missing_key_or_server_names_the_variable_to_set(
    embedder: SentenceTransformerEmbedder,
) -> None:
    registry = ModelRegistry(LLMSettings(), embedder)
    with pytest.raises(
        ModelUnavailable, match="KB_LLM__MISTRAL__API_KEY or PUT /v1/providers/mistral"
    ):
        registry.get("mistral")
    with pytest.raises(ModelUnavailable, match="KB_LLM__OPENAI_COMPATIBLE__BASE_URL"):
        registry.get("openai-compatible:any")


def test_the_local_model_reads_its_section(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    settings = LLMSettings()
    settings.local.model_path = tmp_path / "Tiny-Instruct.Q8_0.gguf"
    settings.temperature = 0.5
    model = ModelRegistry(settings, embedder).get("local")  # loaded on first use, not here
    assert isinstance(model, LocalModel)
    assert model.gguf_path == settings.local.model_path and model.temperature == 0.5
    assert model.model_id == "local:Tiny-Instruct"


def test_unknown_providers_are_the_callers_mistake(embedder: SentenceTransformerEmbedder) -> None:
    registry = ModelRegistry(LLMSettings(), embedder)
    with pytest.raises(InvalidInput) as failure:
        registry.get("gpt-5-turbo")
    assert failure.value.extra["known_models"] == registry.providers


class _Echo:
    """A model that only keeps what it was built from."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = f"echo:{config.model}"

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        return Generation("", self.name)


def _echo_spec() -> ProviderSpec:
    """A provider added the way a new one would be: a spec, reusing a section for its settings."""
    return ProviderSpec(
        name="echo",
        build=_Echo,
        settings="mistral",
        key_env="KB_LLM__MISTRAL__API_KEY",
        key_required=True,
        stored_credentials=True,
    )


def _echo(model: AnswerModel) -> ProviderConfig:
    assert isinstance(model, _Echo)
    return model.config


def test_a_new_provider_is_resolved_from_its_spec_alone(
    embedder: SentenceTransformerEmbedder,
) -> None:
    settings = LLMSettings()
    settings.mistral.api_key = SecretStr("sk-environment")
    settings.mistral.base_url = "http://environment.example"
    stored: dict[str, ProviderSecret] = {}
    registry = ModelRegistry(settings, embedder, stored.get, specs=[_echo_spec()])

    config = _echo(registry.get("echo"))
    assert (config.model, config.api_key) == ("mistral-small-latest", "sk-environment")
    assert config.base_url == "http://environment.example" and config.llm is settings
    assert _echo(registry.get("echo:bigger")).model == "bigger"

    stored["echo"] = STORED  # a stored credential wins, and the cached model is rebuilt
    config = _echo(registry.get("echo"))
    assert (config.api_key, config.base_url) == (STORED.api_key, STORED.base_url)

    stored["echo"] = ProviderSecret("sk-stored-5678", None, "v2")  # no base URL: the settings'
    config = _echo(registry.get("echo"))
    assert (config.api_key, config.base_url) == ("sk-stored-5678", "http://environment.example")


def test_stored_credentials_are_read_only_for_providers_that_take_them(
    embedder: SentenceTransformerEmbedder,
) -> None:
    asked: list[str] = []

    def lookup(provider: str) -> ProviderSecret | None:
        asked.append(provider)
        return None

    registry = ModelRegistry(LLMSettings(), embedder, lookup)
    registry.get("extractive")
    with pytest.raises(ModelUnavailable):
        registry.get("anthropic")
    assert asked == ["anthropic"]
