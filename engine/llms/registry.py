"""Model names -> factories; models are built on first use and kept."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.llms.base import AnswerModel
from engine.llms.extractive import ExtractiveModel
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
            "openai-compatible": self._openai_compatible,
            "anthropic": self._anthropic,
            "ollama": self._ollama,
        }
        self._models: dict[str, AnswerModel] = {}
        self._lock = threading.Lock()

    @property
    def providers(self) -> list[str]:
        """Names of the known model providers."""
        return sorted(self._factories)

    def get(self, spec: str | None = None) -> AnswerModel:
        """The model for ``spec`` (``provider`` or ``provider:model``); default when None."""
        spec = (spec or self._settings.default_model).strip()
        provider, _, model = spec.partition(":")
        factory = self._factories.get(provider)
        if factory is None:
            raise InvalidInput(
                f"Unknown model {spec!r}; use one of: {', '.join(self.providers)}.",
                known_models=self.providers,
            )
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
