"""Answering with Anthropic's Claude models through the official ``anthropic`` client.

The client retries (with backoff, honouring Retry-After) on connection errors, 408/409/429 and
5xx. Every failure becomes ``ProviderError``; the API key never appears in its detail. The
Messages API of this client takes no sampling parameters, so ``KB_LLM__TEMPERATURE`` does not
apply.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import anthropic

from engine.llms.base import Generation, Prompt
from kb.errors import ProviderError
from kb.models import Usage

_MAX_DETAIL_CHARS = 300


class AnthropicModel:
    """A Claude model behind the Anthropic Messages API."""

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.name = f"anthropic:{model}"
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._where = f"Anthropic API at {base_url or 'api.anthropic.com'}"
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """Claude's reply to the prompt's messages."""
        try:
            message = self._client.messages.create(**self._request(prompt, max_tokens))
        except Exception as exc:
            # `from None`: the original exception (and its request) may carry the key.
            raise ProviderError(self._describe(exc), model=self.name) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        return Generation(text.strip(), self.name, _usage(message.usage))

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """Claude's reply, piece by piece, returning the token usage; closing the generator
        closes the HTTP stream."""
        try:
            with self._client.messages.stream(**self._request(prompt, max_tokens)) as stream:
                yield from stream.text_stream
                return _usage(stream.get_final_message().usage)
        except GeneratorExit:
            raise
        except Exception as exc:
            raise ProviderError(self._describe(exc), model=self.name) from None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        # The Messages API takes the system prompt apart from the turns.
        system = "\n\n".join(m.content for m in prompt.messages if m.role == "system")
        turns = [
            {"role": m.role, "content": m.content} for m in prompt.messages if m.role != "system"
        ]
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": turns,
        }
        if system:
            request["system"] = system
        return request

    def _describe(self, exc: Exception) -> str:
        """What went wrong, naming the HTTP status or cause, with the API key removed."""
        if isinstance(exc, anthropic.APIStatusError):
            detail = f"{self._where} answered HTTP {exc.status_code}: {_error_message(exc)}"
        elif isinstance(exc, anthropic.APITimeoutError):
            detail = f"{self._where} did not answer within {self.timeout_s:g} s"
        elif isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__ or exc
            detail = f"could not connect to {self._where}: {type(cause).__name__}: {cause}"
        else:
            detail = f"unusable answer from {self._where}: {type(exc).__name__}: {exc}"
        return detail.replace(self._api_key, "***")


def _error_message(exc: anthropic.APIStatusError) -> str:
    """Anthropic's own message (``{"type": "error", "error": {"message": ...}}``), shortened."""
    body = exc.body
    message: Any = None
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else error
    text = str(message) if message else exc.message
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "..."


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        prompt_tokens=getattr(usage, "input_tokens", None),
        completion_tokens=getattr(usage, "output_tokens", None),
    )
