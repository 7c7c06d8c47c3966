"""Model names -> provider specs; models are built on first use and kept.

Each provider module declares its ``SPEC`` (``engine.llms.providers.base.ProviderSpec``); the
registry lists them, one line each, and resolves every provider alike: a provider credential
stored by an administrator (``kb.access.credentials``) wins over the settings' section of the
provider; a cached client is rebuilt when its stored credential changes or is deleted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from engine.llms import extractive, local
from engine.llms.base import AnswerModel
from engine.llms.fallback import FallbackModel
from engine.llms.providers import anthropic, gemini, mistral, ollama, openai, openai_compatible
from engine.llms.providers.base import ProviderConfig, ProviderSpec
from kb.access.credentials import ProviderSecret
from kb.embeddings.base import Embedder
from kb.errors import InvalidInput, ModelUnavailable
from kb.settings import LLMSettings
from kb.settings.llm import ProviderSettings

# Every provider of answering models (importing them is cheap: clients load on first use).
SPECS: tuple[ProviderSpec, ...] = (
    extractive.SPEC,
    local.SPEC,
    openai.SPEC,
    anthropic.SPEC,
    gemini.SPEC,
    mistral.SPEC,
    ollama.SPEC,
    openai_compatible.SPEC,
)
# The providers whose key an administrator may store (PUT /v1/providers/NAME).
CREDENTIAL_PROVIDERS: tuple[str, ...] = tuple(s.name for s in SPECS if s.stored_credentials)

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
        specs: Sequence[ProviderSpec] = SPECS,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._credentials = credentials
        self._specs = {spec.name: spec for spec in specs}
        # spec -> (version of the stored credential it was built with, model); least recently
        # used first, at most _CACHED_MODELS (callers name models, so names are unbounded)
        self._models: OrderedDict[str, tuple[str | None, AnswerModel]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def providers(self) -> list[str]:
        """Names of the known model providers."""
        return sorted(self._specs)

    def get(self, spec: str | None = None) -> AnswerModel:
        """The model for ``spec`` (``provider`` or ``provider:model``); default when None.

        A comma-separated spec, or a ``KB_LLM__FALLBACK`` setting, gives a fallback chain.
        """
        chain = self._chain(spec)
        for item in chain:
            self._spec(item)  # an unknown provider is the caller's mistake: say so now
        if len(chain) == 1:
            return self._model(chain[0])
        return FallbackModel(chain, self._model)

    def validate(self, spec: str) -> None:
        """Raise InvalidInput unless every model named in ``spec`` has a known provider."""
        names = _split(spec)
        if not names:
            raise InvalidInput("A model spec needs at least one model name.")
        for name in names:
            self._spec(name)

    def _chain(self, spec: str | None) -> list[str]:
        """The specs to try in order: the requested (or default) ones, then the fallbacks."""
        requested = _split(spec) or _split(self._settings.default_model) or ["extractive"]
        return list(dict.fromkeys(requested + _split(self._settings.fallback)))

    def _spec(self, name: str) -> ProviderSpec:
        spec = self._specs.get(name.partition(":")[0])
        if spec is None:
            raise InvalidInput(
                f"Unknown model {name!r}; use one of: {', '.join(self.providers)}.",
                known_models=self.providers,
            )
        return spec

    def environment_credential(self, provider: str) -> tuple[bool, str | None]:
        """Whether the settings configure ``provider`` (a key, or a server that needs none),
        and the base URL they give it."""
        spec = self._specs.get(provider)
        if spec is None:
            return False, None
        section = self._section(spec)
        if section is None:
            return True, None  # nothing to configure
        key = section.api_key.get_secret_value() if section.api_key else None
        has_key = bool(key) or not spec.key_required
        has_server = bool(section.base_url) or not spec.base_url_required
        return has_key and has_server, section.base_url

    def _model(self, name: str) -> AnswerModel:
        """The one model for ``name``, built on first use and again when its credential changes."""
        spec = self._spec(name)
        model = name.partition(":")[2]
        lookup = self._credentials if spec.stored_credentials else None
        stored = lookup(spec.name) if lookup else None
        version = stored.version if stored else None
        key = f"{spec.name}:{model}"
        with self._lock:
            cached = self._models.get(key)
            if cached is None or cached[0] != version:
                cached = (version, spec.build(self._config(spec, model or None, stored)))
                self._models[key] = cached
            self._models.move_to_end(key)
            while len(self._models) > _CACHED_MODELS:
                self._models.popitem(last=False)
            return cached[1]

    def _section(self, spec: ProviderSpec) -> ProviderSettings | None:
        """The provider's own settings section, when it has a key, an address and a model."""
        section = getattr(self._settings, spec.settings) if spec.settings else None
        return section if isinstance(section, ProviderSettings) else None

    def _config(
        self, spec: ProviderSpec, model: str | None, stored: ProviderSecret | None
    ) -> ProviderConfig:
        """What ``spec.build`` gets: the stored key and base URL, else the settings' ones; a
        provider missing a key or address it needs is unavailable, not an error later."""
        section = self._section(spec)
        env_key = section.api_key if section else None
        api_key = stored.api_key if stored else (env_key.get_secret_value() if env_key else None)
        base_url = stored.base_url if stored and stored.base_url else None
        base_url = base_url or (section.base_url if section else None)
        where = f" or PUT /v1/providers/{spec.name}" if spec.stored_credentials else ""
        if spec.key_required and not api_key:
            raise ModelUnavailable(f"The {spec.name} model needs a key: set {spec.key_env}{where}.")
        if spec.base_url_required and not base_url:
            raise ModelUnavailable(
                f"The {spec.name} model needs a server: set {spec.env_var('base_url')}{where}."
            )
        return ProviderConfig(
            model=model or (section.model if section else None),
            api_key=api_key or None,
            base_url=base_url,
            llm=self._settings,
            embedder=self._embedder,
        )


def _split(specs: str | None) -> list[str]:
    """``"a, b:c"`` -> ``["a", "b:c"]``."""
    return [spec.strip() for spec in (specs or "").split(",") if spec.strip()]
