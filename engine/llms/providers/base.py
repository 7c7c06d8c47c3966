"""The provider seam: what each provider module declares (``SPEC``), and the base of the remote
ones.

A provider module exports ``SPEC = ProviderSpec(...)``: its name, its settings section, the
variable holding its key and ``build``, its factory. ``engine.llms.registry`` lists the specs.

``RemoteModel`` does what every remote provider does alike: construction, the error detail (HTTP
status, timeout or connection failure; the API key never in it), ``ProviderError`` raised
``from None`` (the original exception and its request may carry the key), and retries with
``engine.llms.retry`` for clients whose own retries are switched off. A subclass builds its
client and speaks its wire protocol. Client libraries are imported where they are used, not with
the module: the registry imports every provider module for its ``SPEC``, and loading all five
clients would add seconds to every start.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from engine.llms.base import AnswerModel, Generation, Prompt
from engine.llms.retry import next_delay_s
from kb.embeddings.base import Embedder
from kb.errors import ProviderError
from kb.models import Usage
from kb.settings import LLMSettings

T = TypeVar("T")

# Answers worth trying again: the server was busy, overloaded or briefly broken.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class ProviderConfig:
    """What a provider's factory builds a model from, resolved by the registry: a stored
    credential wins over the settings'."""

    model: str | None  # the name after ``provider:``, else the section's default model
    api_key: str | None
    base_url: str | None
    llm: LLMSettings  # the shared settings: timeout, retries, temperature, sections
    embedder: Embedder


@dataclass(frozen=True)
class ProviderSpec:
    """One provider of answering models, as its module declares it."""

    name: str  # what a model spec starts with: "anthropic" in "anthropic:claude-opus-4"
    build: Callable[[ProviderConfig], AnswerModel]
    settings: str | None = None  # its section of LLMSettings, e.g. "openai_compatible"
    key_env: str | None = None  # the variable holding its key, e.g. "KB_LLM__ANTHROPIC__API_KEY"
    key_required: bool = False  # unavailable without a key
    base_url_required: bool = False  # unavailable without an address
    stored_credentials: bool = False  # a key may be set over the API (PUT /v1/providers/NAME)

    def env_var(self, field: str) -> str:
        """The variable of a field of this provider's section, e.g. ``KB_LLM__OLLAMA__BASE_URL``."""
        return f"KB_LLM__{(self.settings or self.name).upper()}__{field.upper()}"


@dataclass(frozen=True)
class Failure:
    """What a failed call's exception means, as ``RemoteModel`` words and retries it."""

    status: int | None = None  # the server answered with this HTTP error status...
    message: str = ""  # ...and this message of its own
    timed_out: bool = False  # no answer within the timeout
    unreachable: BaseException | None = None  # could not connect, for this reason


class RemoteModel(ABC):
    """A model behind a provider's HTTP API, reached through the provider's client library."""

    provider: ClassVar[str]  # "anthropic": models are named "anthropic:MODEL"
    service: ClassVar[str]  # "Anthropic API", as error details name it
    default_host: ClassVar[str] = ""  # where the client goes without a base URL
    # True when the client's own retries are off and this class retries (``max_retries``).
    retries_here: ClassVar[bool] = False
    retry_statuses: ClassVar[frozenset[int]] = RETRY_STATUSES
    retry_unreachable: ClassVar[bool] = False  # also retry timeouts and connection failures
    retry_streams: ClassVar[bool] = False  # also retry a stream, until its first piece

    def __init__(
        self,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        backoff_s: float = 0.5,
    ) -> None:
        self.name = f"{self.provider}:{model}"
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self._api_key = api_key
        self._backoff_s = backoff_s
        self._where = f"{self.service} at {base_url or self.default_host}"
        self._client = self._connect()

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        """The model the registry resolved (``ProviderSpec.build`` of remote providers)."""
        assert config.model is not None  # the registry falls back on the section's model
        return cls(
            model=config.model,
            api_key=config.api_key,
            base_url=config.base_url,
            timeout_s=config.llm.timeout_s,
            max_retries=config.llm.max_retries,
            temperature=config.llm.temperature,
        )

    @abstractmethod
    def _connect(self) -> Any:
        """The provider's client, built from the attributes set so far."""

    @abstractmethod
    def _generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """One call for the whole reply; any exception is described by ``_failure``."""

    @abstractmethod
    def _stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """The reply piece by piece, returning the token usage; exceptions as ``_generate``."""

    @abstractmethod
    def _failure(self, exc: Exception) -> Failure:
        """What the client's exception means."""

    def _hinted_delay_s(self, exc: Exception) -> float | None:
        """How long the failed answer asked to wait before retrying, if it said."""
        return None

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The model's reply to the prompt's messages."""
        attempt = 0
        while True:
            try:
                return self._generate(prompt, max_tokens)
            except Exception as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise self._error(exc) from None
            time.sleep(delay)
            attempt += 1

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """The reply piece by piece, returning the token usage; closing the generator closes
        the HTTP stream. Text already sent cannot be taken back: no retry after the first
        piece."""
        attempt = 0
        while True:
            pieces = self._stream(prompt, max_tokens)
            try:
                first = next(pieces)
                break
            except StopIteration as end:
                return end.value
            except Exception as exc:
                delay = self._retry_delay(exc, attempt) if self.retry_streams else None
                if delay is None:
                    raise self._error(exc) from None
            time.sleep(delay)
            attempt += 1
        try:
            yield first
            return (yield from pieces)
        except Exception as exc:
            raise self._error(exc) from None
        finally:
            pieces.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _retry_delay(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when this failure is final."""
        if not self.retries_here or attempt >= self.max_retries:
            return None
        failure = self._failure(exc)
        busy = failure.status is not None and failure.status in self.retry_statuses
        lost = failure.timed_out or failure.unreachable is not None
        if not (busy or (lost and self.retry_unreachable)):
            return None
        return next_delay_s(attempt, self._backoff_s, self._hinted_delay_s(exc))

    def _error(self, exc: Exception) -> ProviderError:
        """The ``ProviderError`` for a failed call, naming the HTTP status or cause."""
        if isinstance(exc, ProviderError):  # raised by the subclass, already worded
            return exc
        return ProviderError(self._redact(self._describe(exc)), model=self.name)

    def _describe(self, exc: Exception) -> str:
        failure = self._failure(exc)
        if failure.status is not None:
            return f"{self._where} answered HTTP {failure.status}: {shorten(failure.message)}"
        if failure.timed_out:
            return f"{self._where} did not answer within {self.timeout_s:g} s"
        if (cause := failure.unreachable) is not None:
            return f"could not connect to {self._where}: {type(cause).__name__}: {cause}"
        return f"unusable answer from {self._where}: {type(exc).__name__}: {exc}"

    def _redact(self, detail: str) -> str:
        """``detail`` without the API key (servers echo the key they were sent)."""
        return detail.replace(self._api_key, "***") if self._api_key else detail


def shorten(text: str) -> str:
    """A provider's message cut to ``MAX_DETAIL_CHARS``."""
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "..."


def api_error_message(body: object, fallback: str) -> str:
    """A provider's own error message from a JSON error body (``{"error": {"message": ...}}``,
    as OpenAI- and Anthropic-style APIs send it), else ``fallback``."""
    message: Any = None
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else error
    return str(message) if message else fallback
