"""Answering with Google's Gemini models through the official ``google-genai`` client.

408/429/5xx answers are retried here (``max_retries`` times), waiting as long as the server asks
(``Retry-After``, or Google's ``RetryInfo.retryDelay`` in the error body), else with exponential
backoff; the client's own retries are off, since they ignore both. A stream is retried until its
first piece arrives, not after. Every failure becomes ``ProviderError``; the API key
never appears in its detail.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from google import genai
from google.genai import errors, types

from engine.llms.base import Generation, Prompt
from engine.llms.retry import hinted_delay_s, next_delay_s
from kb.errors import ProviderError
from kb.models import Usage

_RETRYABLE = [408, 429, 500, 502, 503, 504]
_MAX_DETAIL_CHARS = 300


class GeminiModel:
    """A Gemini model behind the Gemini Developer API (``generateContent``)."""

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
        self.name = f"gemini:{model}"
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._temperature = temperature
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._where = f"Gemini API at {base_url or 'generativelanguage.googleapis.com'}"
        self._client = genai.Client(
            api_key=api_key,
            # vertexai=False: never pick up Vertex AI settings from the environment.
            vertexai=False,
            # v1beta pinned: the client's default moved between releases (and follows an
            # environment variable); v1beta has every field sent here.
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version="v1beta",
                timeout=int(timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),  # retried in this class
            ),
        )

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """Gemini's reply to the prompt's messages."""
        attempt = 0
        while True:
            try:
                response = self._client.models.generate_content(**self._request(prompt, max_tokens))
                text = _text(response)
                return Generation(text.strip(), self.name, _usage(response.usage_metadata))
            except Exception as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    # `from None`: the original exception (and its request) may carry the key.
                    raise ProviderError(self._describe(exc), model=self.name) from None
            time.sleep(delay)
            attempt += 1

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """Gemini's reply piece by piece, returning the token usage of the last chunk."""
        usage = Usage()
        attempt, started = 0, False
        while True:
            try:
                chunks = self._client.models.generate_content_stream(
                    **self._request(prompt, max_tokens)
                )
                for chunk in chunks:
                    started = True
                    if text := _text(chunk):
                        yield text
                    if chunk.usage_metadata is not None:
                        usage = _usage(chunk.usage_metadata)
                return usage
            except GeneratorExit:
                raise
            except Exception as exc:
                delay = None if started else self._retry_delay(exc, attempt)
                if delay is None:
                    raise ProviderError(self._describe(exc), model=self.name) from None
            time.sleep(delay)
            attempt += 1

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _retry_delay(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when this failure is final."""
        if attempt >= self._max_retries:
            return None
        if not isinstance(exc, errors.APIError) or exc.code not in _RETRYABLE:
            return None
        headers = getattr(exc.response, "headers", None)
        return next_delay_s(attempt, self._backoff_s, hinted_delay_s(headers, exc.details))

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        # Gemini takes the system prompt apart from the turns, and calls the assistant "model".
        system = "\n\n".join(m.content for m in prompt.messages if m.role == "system")
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user",
                parts=[types.Part(text=m.content)],
            )
            for m in prompt.messages
            if m.role != "system"
        ]
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=max_tokens,
            temperature=self._temperature,
        )
        return {"model": self.model, "contents": contents, "config": config}

    def _describe(self, exc: Exception) -> str:
        """What went wrong, naming the HTTP status or cause, with the API key removed."""
        if isinstance(exc, errors.APIError):
            message = str(exc.message or exc.status or "")
            if len(message) > _MAX_DETAIL_CHARS:
                message = message[:_MAX_DETAIL_CHARS] + "..."
            detail = f"{self._where} answered HTTP {exc.code}: {message}"
        elif "timeout" in type(exc).__name__.lower():
            detail = f"{self._where} did not answer within {self.timeout_s:g} s"
        else:
            detail = f"could not use {self._where}: {type(exc).__name__}: {exc}"
        return detail.replace(self._api_key, "***")


def _text(response: types.GenerateContentResponse) -> str:
    """The text parts of the first candidate (``response.text`` warns on non-text parts)."""
    if not response.candidates:
        return ""
    content = response.candidates[0].content
    parts = content.parts if content and content.parts else []
    return "".join(part.text for part in parts if part.text and not part.thought)


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    if metadata is None:
        return Usage()
    return Usage(
        prompt_tokens=metadata.prompt_token_count,
        completion_tokens=metadata.candidates_token_count,
    )
