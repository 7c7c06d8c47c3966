"""Answering with Mistral's models through the official ``mistralai`` client.

The client's own retries are bounded by elapsed time, not by count, so they are switched off
and ``generate`` retries 429 and 5xx answers (and connection errors) here, ``max_retries``
times, waiting as long as ``Retry-After`` asks, else with exponential backoff; a stream is not
retried once it has started. Every failure becomes ``ProviderError``; the API key never appears
in its detail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import httpx2
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from mistralai.client.utils import BackoffStrategy, RetryConfig

from engine.llms.base import Generation, Prompt
from engine.llms.retry import hinted_delay_s, next_delay_s
from kb.errors import ProviderError
from kb.models import Usage

_RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})
_MAX_DETAIL_CHARS = 300
_NO_RETRIES = RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False)


class MistralModel:
    """A chat model behind Mistral's chat-completions API."""

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        backoff_s: float = 0.5,
    ) -> None:
        self.name = f"mistral:{model}"
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._max_retries = max_retries
        self._temperature = temperature
        self._backoff_s = backoff_s
        self._where = f"Mistral API at {base_url or 'api.mistral.ai'}"
        self._client = Mistral(
            api_key=api_key,
            server_url=base_url,
            timeout_ms=int(timeout_s * 1000),
            retry_config=_NO_RETRIES,
        )

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """Mistral's reply to the prompt's messages."""
        for attempt in range(self._max_retries + 1):
            try:
                response = self._client.chat.complete(**self._request(prompt, max_tokens))
                break
            except Exception as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    # `from None`: the original exception (and its request) may carry the key.
                    raise ProviderError(self._describe(exc), model=self.name) from None
                time.sleep(delay)
        if not response.choices:
            raise ProviderError(f"{self._where} sent no choices", model=self.name)
        message = response.choices[0].message
        text = _text(message.content if message else None)
        return Generation(text.strip(), self.name, _usage(response.usage))

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """Mistral's reply piece by piece, returning the token usage of the last chunk."""
        usage = Usage()
        try:
            with self._client.chat.stream(**self._request(prompt, max_tokens)) as events:
                for event in events:
                    chunk = event.data
                    if chunk.choices and (text := _text(chunk.choices[0].delta.content)):
                        yield text
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
        except GeneratorExit:
            raise
        except Exception as exc:
            raise ProviderError(self._describe(exc), model=self.name) from None
        return usage

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.__exit__(None, None, None)

    def _retry_delay(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when this failure is final."""
        if not _retryable(exc) or attempt == self._max_retries:
            return None
        headers = exc.raw_response.headers if isinstance(exc, MistralError) else None
        return next_delay_s(attempt, self._backoff_s, hinted_delay_s(headers))

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "max_tokens": max_tokens,
            "temperature": self._temperature,
        }

    def _describe(self, exc: Exception) -> str:
        """What went wrong, naming the HTTP status or cause, with the API key removed."""
        if isinstance(exc, MistralError):
            detail = f"{self._where} answered HTTP {exc.status_code}: {_error_message(exc)}"
        elif isinstance(exc, httpx2.TimeoutException):
            detail = f"{self._where} did not answer within {self.timeout_s:g} s"
        elif isinstance(exc, httpx2.TransportError):
            detail = f"could not connect to {self._where}: {type(exc).__name__}: {exc}"
        else:
            detail = f"unusable answer from {self._where}: {type(exc).__name__}: {exc}"
        return detail.replace(self._api_key, "***")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, MistralError):
        return exc.status_code in _RETRYABLE
    return isinstance(exc, httpx2.TransportError)


def _text(content: Any) -> str:
    """The text of a message: a string, or (for newer models) a list of typed chunks."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(getattr(part, "text", None) or "" for part in content)
    return ""


def _error_message(exc: MistralError) -> str:
    """Mistral's own message (``{"message": ...}`` or ``{"detail": ...}``), shortened."""
    message: Any = None
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail")
    text = str(message) if message else (exc.body or exc.message)
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "..."


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
    )
