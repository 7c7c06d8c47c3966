"""Answering with Mistral's models through the official ``mistralai`` client.

The client's own retries are bounded by elapsed time, not by count, so they are switched off
and ``generate`` retries 408/409/429 and 5xx answers (and connection errors) here,
``max_retries`` times, waiting as long as ``Retry-After`` asks, else with exponential backoff; a
stream is not retried. Every failure becomes ``ProviderError``; the API key never appears in its
detail.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from engine.llms.base import Generation, Prompt
from engine.llms.providers.base import Failure, ProviderSpec, RemoteModel
from engine.llms.retry import hinted_delay_s
from kb.errors import ProviderError
from kb.models import Usage

if TYPE_CHECKING:
    from mistralai.client import Mistral
    from mistralai.client.errors import MistralError


class MistralModel(RemoteModel):
    """A chat model behind Mistral's chat-completions API."""

    provider = "mistral"
    service = "Mistral API"
    default_host = "api.mistral.ai"
    retries_here = True
    retry_unreachable = True

    def _connect(self) -> Mistral:
        from mistralai.client import Mistral
        from mistralai.client.utils import BackoffStrategy, RetryConfig

        return Mistral(
            api_key=self._api_key,
            server_url=self.base_url,
            timeout_ms=int(self.timeout_s * 1000),
            retry_config=RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False),
        )

    def _generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        response = self._client.chat.complete(**self._request(prompt, max_tokens))
        if not response.choices:
            raise ProviderError(f"{self._where} sent no choices", model=self.name)
        message = response.choices[0].message
        text = _text(message.content if message else None)
        return Generation(text.strip(), self.name, _usage(response.usage))

    def _stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        usage = Usage()
        with self._client.chat.stream(**self._request(prompt, max_tokens)) as events:
            for event in events:
                chunk = event.data
                if chunk.choices and (text := _text(chunk.choices[0].delta.content)):
                    yield text
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
        return usage

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.__exit__(None, None, None)

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
        }

    def _failure(self, exc: Exception) -> Failure:
        import httpx2
        from mistralai.client.errors import MistralError

        if isinstance(exc, MistralError):
            return Failure(status=exc.status_code, message=_error_message(exc))
        if isinstance(exc, httpx2.TimeoutException):
            return Failure(timed_out=True)
        if isinstance(exc, httpx2.TransportError):
            return Failure(unreachable=exc)
        return Failure()

    def _hinted_delay_s(self, exc: Exception) -> float | None:
        from mistralai.client.errors import MistralError

        return hinted_delay_s(exc.raw_response.headers) if isinstance(exc, MistralError) else None


def _text(content: Any) -> str:
    """The text of a message: a string, or (for newer models) a list of typed chunks."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(getattr(part, "text", None) or "" for part in content)
    return ""


def _error_message(exc: MistralError) -> str:
    """Mistral's own message (``{"message": ...}`` or ``{"detail": ...}``)."""
    message: Any = None
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail")
    return str(message) if message else (exc.body or exc.message)


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
    )


SPEC = ProviderSpec(
    name="mistral",
    build=MistralModel.from_config,
    settings="mistral",
    key_env="KB_LLM__MISTRAL__API_KEY",
    key_required=True,
    stored_credentials=True,
)
