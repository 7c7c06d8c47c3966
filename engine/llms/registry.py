"""Model names -> factories; models are built on first use and kept."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydantic import SecretStr

from engine.llms.base import AnswerModel
from engine.llms.extractive import ExtractiveModel
from engine.llms.fallback import FallbackModel
from kb.embeddings import Embedder
from kb.errors import InvalidInput, ModelUnavailable
from kb.settings import LLMSettings

Factory = Callable[[str | None], AnswerModel]


class ModelRegistry:
    """Resolves model specs such as ``extractive``, ``local`` or ``openai-compatible:gpt-4o``."""

    def __init__(self, settings: LLMSettings, embedder: Embedder) -> None:
        self._settings = settings
        self._embedder = embedder
        self._factories: dict[str, Factory] = {
            "extractive": self._extractive,
            "local": self._local,
            "openai": self._openai,
            "openai-compatible": self._openai_compatible,
            "anthropic": self._anthropic,
            "gemini": self._gemini,
            "mistral": self._mistral,
            "ollama": self._ollama,
        }
        self._models: dict[str, AnswerModel] = {}
        self._lock = threading.Lock()

    @property
    def providers(self) -> list[str]:
        """Names of the known model providers."""
        return sorted(self._factories)

    def get(self, spec: str | None = None) -> AnswerModel:
        """The model for ``spec`` (``provider`` or ``provider:model``); default when None.

        A comma-separated spec, or a ``KB_LLM__FALLBACK`` setting, gives a fallback chain.
        """
        chain = self._chain(spec)
        for item in chain:
            self._factory(item)  # an unknown provider is the caller's mistake: say so now
        if len(chain) == 1:
            return self._model(chain[0])
        return FallbackModel(chain, self._model)

    def validate(self, spec: str) -> None:
        """Raise InvalidInput unless every model named in ``spec`` has a known provider."""
        names = _split(spec)
        if not names:
            raise InvalidInput("A model spec needs at least one model name.")
        for name in names:
            self._factory(name)

    def _chain(self, spec: str | None) -> list[str]:
        """The specs to try in order: the requested (or default) ones, then the fallbacks."""
        requested = _split(spec) or _split(self._settings.default_model) or ["extractive"]
        return list(dict.fromkeys(requested + _split(self._settings.fallback)))

    def _factory(self, spec: str) -> Factory:
        factory = self._factories.get(spec.partition(":")[0])
        if factory is None:
            raise InvalidInput(
                f"Unknown model {spec!r}; use one of: {', '.join(self.providers)}.",
                known_models=self.providers,
            )
        return factory

    def _model(self, spec: str) -> AnswerModel:
        """The one model for ``spec``, built on first use."""
        provider, _, model = spec.partition(":")
        factory = self._factory(spec)
        key = f"{provider}:{model}"
        with self._lock:
            if key not in self._models:
                self._models[key] = factory(model or None)
            return self._models[key]

    def _extractive(self, _model: str | None) -> AnswerModel:
        return ExtractiveModel(self._embedder)

    def _local(self, _model: str | None) -> AnswerModel:
        from engine.llms.local import LocalModel

        return LocalModel(self._settings.local_model_path, temperature=self._settings.temperature)

    def _openai_compatible(self, model: str | None) -> AnswerModel:
        from engine.llms.openai_compatible import OpenAICompatibleModel

        if not self._settings.openai_base_url:
            raise ModelUnavailable(
                "The openai-compatible model needs a server: set KB_LLM__OPENAI_BASE_URL."
            )
        return OpenAICompatibleModel(
            model=model or self._settings.openai_model,
            base_url=self._settings.openai_base_url,
            api_key=(
                self._settings.openai_api_key.get_secret_value()
                if self._settings.openai_api_key
                else None
            ),
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )

    def _openai(self, model: str | None) -> AnswerModel:
        from engine.llms.openai_compatible import OpenAICompatibleModel

        key = _key(self._settings.openai_platform_api_key, "openai", "OPENAI_PLATFORM_API_KEY")
        return OpenAICompatibleModel(
            model=model or self._settings.openai_platform_model,
            base_url=self._settings.openai_platform_base_url,
            api_key=key,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
            provider="openai",
        )

    def _mistral(self, model: str | None) -> AnswerModel:
        from engine.llms.mistral_chat import MistralModel

        return MistralModel(
            model=model or self._settings.mistral_model,
            api_key=_key(self._settings.mistral_api_key, "mistral", "MISTRAL_API_KEY"),
            base_url=self._settings.mistral_base_url,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )

    def _gemini(self, model: str | None) -> AnswerModel:
        from engine.llms.gemini_genai import GeminiModel

        return GeminiModel(
            model=model or self._settings.gemini_model,
            api_key=_key(self._settings.gemini_api_key, "gemini", "GEMINI_API_KEY"),
            base_url=self._settings.gemini_base_url,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )

    def _anthropic(self, model: str | None) -> AnswerModel:
        from engine.llms.anthropic_messages import AnthropicModel

        if not self._settings.anthropic_api_key:
            raise ModelUnavailable(
                "The anthropic model needs a key: set KB_LLM__ANTHROPIC_API_KEY."
            )
        return AnthropicModel(
            model=model or self._settings.anthropic_model,
            api_key=self._settings.anthropic_api_key.get_secret_value(),
            base_url=self._settings.anthropic_base_url,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
        )

    def _ollama(self, model: str | None) -> AnswerModel:
        from engine.llms.ollama_chat import OllamaModel

        return OllamaModel(
            model=model or self._settings.ollama_model,
            host=self._settings.ollama_host,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )


def _key(secret: SecretStr | None, provider: str, setting: str) -> str:
    """The provider's API key; a provider without one is unavailable, not an error later."""
    if not secret or not secret.get_secret_value():
        raise ModelUnavailable(f"The {provider} model needs a key: set KB_LLM__{setting}.")
    return secret.get_secret_value()


def _split(specs: str | None) -> list[str]:
    """``"a, b:c"`` -> ``["a", "b:c"]``."""
    return [spec.strip() for spec in (specs or "").split(",") if spec.strip()]
