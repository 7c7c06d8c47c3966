"""Model names -> factories; models are built on first use and kept.

A provider credential stored by an administrator (``kb.access.credentials``) wins over the
environment's; a cached client is rebuilt when its stored credential changes or is deleted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from pydantic import SecretStr

from engine.llms.base import AnswerModel
from engine.llms.extractive import ExtractiveModel
from engine.llms.fallback import FallbackModel
from kb.access.credentials import PROVIDERS, ProviderSecret
from kb.embeddings.base import Embedder
from kb.errors import InvalidInput, ModelUnavailable
from kb.settings import LLMSettings

Factory = Callable[[str | None, ProviderSecret | None], AnswerModel]
# The stored credential of a provider, or None (``CredentialRepository.secret``).
CredentialLookup = Callable[[str], ProviderSecret | None]

# Answer-model clients kept built (the local model takes ~20 s to load).
_CACHED_MODELS = 32


class ModelRegistry:
    """Resolves model specs such as ``extractive``, ``local`` or ``openai-compatible:gpt-4o``."""

    def __init__(
        self,
        settings: LLMSettings,
        embedder: Embedder,
        credentials: CredentialLookup | None = None,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._credentials = credentials
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
        # spec -> (version of the stored credential it was built with, model); least recently
        # used first, at most _CACHED_MODELS (callers name models, so names are unbounded)
        self._models: OrderedDict[str, tuple[str | None, AnswerModel]] = OrderedDict()
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

    def environment_credential(self, provider: str) -> tuple[bool, str | None]:
        """Whether the settings configure ``provider`` (a key, or a server that needs none),
        and the base URL they give it."""
        s = self._settings
        return {
            "openai": (bool(s.openai_platform_api_key), s.openai_platform_base_url),
            "anthropic": (bool(s.anthropic_api_key), s.anthropic_base_url),
            "gemini": (bool(s.gemini_api_key), s.gemini_base_url),
            "mistral": (bool(s.mistral_api_key), s.mistral_base_url),
            "ollama": (bool(s.ollama_host), s.ollama_host),
            "openai-compatible": (bool(s.openai_base_url), s.openai_base_url),
        }.get(provider, (False, None))

    def _model(self, spec: str) -> AnswerModel:
        """The one model for ``spec``, built on first use and again when its credential changes."""
        provider, _, model = spec.partition(":")
        factory = self._factory(spec)
        stored = (
            self._credentials(provider) if self._credentials and provider in PROVIDERS else None
        )
        version = stored.version if stored else None
        key = f"{provider}:{model}"
        with self._lock:
            cached = self._models.get(key)
            if cached is None or cached[0] != version:
                cached = (version, factory(model or None, stored))
                self._models[key] = cached
            self._models.move_to_end(key)
            while len(self._models) > _CACHED_MODELS:
                self._models.popitem(last=False)
            return cached[1]

    def _extractive(self, _model: str | None, _stored: ProviderSecret | None) -> AnswerModel:
        return ExtractiveModel(self._embedder)

    def _local(self, _model: str | None, _stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.local import LocalModel

        return LocalModel(self._settings.local_model_path, temperature=self._settings.temperature)

    def _openai_compatible(self, model: str | None, stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.providers.openai_compatible import OpenAICompatibleModel

        base_url = _base_url(stored, self._settings.openai_base_url)
        if not base_url:
            raise ModelUnavailable(
                "The openai-compatible model needs a server: set KB_LLM__OPENAI_BASE_URL."
            )
        env_key = self._settings.openai_api_key
        return OpenAICompatibleModel(
            model=model or self._settings.openai_model,
            base_url=base_url,
            api_key=stored.api_key if stored else (env_key.get_secret_value() if env_key else None),
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )

    def _openai(self, model: str | None, stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.providers.openai_compatible import OpenAICompatibleModel

        key = _key(
            stored, self._settings.openai_platform_api_key, "openai", "OPENAI_PLATFORM_API_KEY"
        )
        return OpenAICompatibleModel(
            model=model or self._settings.openai_platform_model,
            base_url=_base_url(stored, self._settings.openai_platform_base_url) or "",
            api_key=key,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
            provider="openai",
        )

    def _mistral(self, model: str | None, stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.providers.mistral import MistralModel

        return MistralModel(
            model=model or self._settings.mistral_model,
            api_key=_key(stored, self._settings.mistral_api_key, "mistral", "MISTRAL_API_KEY"),
            base_url=_base_url(stored, self._settings.mistral_base_url),
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )

    def _gemini(self, model: str | None, stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.providers.gemini import GeminiModel

        return GeminiModel(
            model=model or self._settings.gemini_model,
            api_key=_key(stored, self._settings.gemini_api_key, "gemini", "GEMINI_API_KEY"),
            base_url=_base_url(stored, self._settings.gemini_base_url),
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )

    def _anthropic(self, model: str | None, stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.providers.anthropic import AnthropicModel

        return AnthropicModel(
            model=model or self._settings.anthropic_model,
            api_key=_key(
                stored, self._settings.anthropic_api_key, "anthropic", "ANTHROPIC_API_KEY"
            ),
            base_url=_base_url(stored, self._settings.anthropic_base_url),
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
        )

    def _ollama(self, model: str | None, stored: ProviderSecret | None) -> AnswerModel:
        from engine.llms.providers.ollama import OllamaModel

        return OllamaModel(
            model=model or self._settings.ollama_model,
            host=_base_url(stored, self._settings.ollama_host) or "",
            api_key=stored.api_key if stored else None,
            timeout_s=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
            temperature=self._settings.temperature,
        )


def _key(
    stored: ProviderSecret | None, secret: SecretStr | None, provider: str, setting: str
) -> str:
    """The provider's API key, stored or from the environment; a provider without one is
    unavailable, not an error later."""
    if stored is not None:
        return stored.api_key
    if not secret or not secret.get_secret_value():
        raise ModelUnavailable(
            f"The {provider} model needs a key: set KB_LLM__{setting} "
            f"or PUT /v1/providers/{provider}."
        )
    return secret.get_secret_value()


def _base_url(stored: ProviderSecret | None, configured: str | None) -> str | None:
    """The stored base URL when one was given, else the configured one."""
    return stored.base_url if stored and stored.base_url else configured


def _split(specs: str | None) -> list[str]:
    """``"a, b:c"`` -> ``["a", "b:c"]``."""
    return [spec.strip() for spec in (specs or "").split(",") if spec.strip()]
