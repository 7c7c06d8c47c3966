"""Answering with a model served by Ollama, through the official ``ollama`` client.

The ``ollama`` client does not retry, so ``generate`` retries 429 and 5xx answers here,
waiting as long as the server's ``Retry-After`` asks (``engine.llms.retry``; a proxy or
Ollama's cloud in front of the model may say), else with exponential backoff; a stream is not
retried once it has started. Failures become ``ProviderError``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import Any

import httpx
import ollama

from engine.llms.base import Generation, Prompt
from engine.llms.retry import hinted_delay_s, next_delay_s
from kb.errors import ProviderError
from kb.models import Usage

_RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})


class OllamaModel:
    """A chat model on an Ollama server (local or remote)."""

    def __init__(
        self,
        model: str,
        host: str,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        backoff_s: float = 0.5,
        api_key: str | None = None,
    ) -> None:
        self.name = f"ollama:{model}"
        self.model = model
        self.host = host
        self.timeout_s = timeout_s
        self._max_retries = max_retries
        self._temperature = temperature
        self._backoff_s = backoff_s
        # A key is for an Ollama behind an authenticating proxy or Ollama's cloud.
        auth = {"authorization": f"Bearer {api_key}"} if api_key else None
        # The client's errors carry no headers: each thread notes its last answer's hint.
        self._hint = threading.local()
        self._client = ollama.Client(
            host=host,
            timeout=timeout_s,
            headers=auth,
            event_hooks={"response": [self._note_hint]},
        )

    def _note_hint(self, response: httpx.Response) -> None:
        """Keeps how long a failed answer asked to wait (``Retry-After``), for ``generate``."""
        failed = response.status_code >= 400
        self._hint.delay_s = hinted_delay_s(response.headers) if failed else None

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The model's reply to the prompt's messages."""
        for attempt in range(self._max_retries + 1):
            try:
                response = self._client.chat(**self._request(prompt, max_tokens))
                break
            except ollama.ResponseError as exc:
                delay = None
                if exc.status_code in _RETRYABLE and attempt < self._max_retries:
                    hint = getattr(self._hint, "delay_s", None)
                    delay = next_delay_s(attempt, self._backoff_s, hint)
                if delay is None:  # not retryable, out of retries, or asked to wait too long
                    raise ProviderError(self._describe(exc), model=self.name) from None
                time.sleep(delay)
            except Exception as exc:
                raise ProviderError(self._describe(exc), model=self.name) from None
        return Generation((response.message.content or "").strip(), self.name, _usage(response))

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """The reply piece by piece, returning the token usage of the last chunk."""
        usage = Usage()
        try:
            for chunk in self._client.chat(**self._request(prompt, max_tokens), stream=True):
                if chunk.message.content:
                    yield chunk.message.content
                if chunk.done:
                    usage = _usage(chunk)
        except GeneratorExit:
            raise
        except Exception as exc:
            raise ProviderError(self._describe(exc), model=self.name) from None
        return usage

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "options": {"num_predict": max_tokens, "temperature": self._temperature},
        }

    def _describe(self, exc: Exception) -> str:
        where = f"Ollama at {self.host}"
        if isinstance(exc, ollama.ResponseError):
            return f"{where} answered HTTP {exc.status_code}: {exc.error[:300]}"
        return f"could not use {where}: {type(exc).__name__}: {exc}"


def _usage(response: Any) -> Usage:
    return Usage(
        prompt_tokens=getattr(response, "prompt_eval_count", None),
        completion_tokens=getattr(response, "eval_count", None),
    )
