"""Answering with Anthropic's Claude models through the official ``anthropic`` client.

The client retries (with backoff, honouring Retry-After) on connection errors, 408/409/429 and
5xx. Every failure becomes ``ProviderError``; the API key never appears in its detail. The
Messages API of this client takes no sampling parameters, so ``KB_LLM__TEMPERATURE`` does not
apply.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from engine.llms.base import Generation, Prompt
from engine.llms.providers.base import Failure, ProviderSpec, RemoteModel, api_error_message
from kb.models import Usage

if TYPE_CHECKING:
    import anthropic


class AnthropicModel(RemoteModel):
    """A Claude model behind the Anthropic Messages API."""

    provider = "anthropic"
    service = "Anthropic API"
    default_host = "api.anthropic.com"

    def _connect(self) -> anthropic.Anthropic:
        import anthropic

        return anthropic.Anthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
        )

    def _generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        message = self._client.messages.create(**self._request(prompt, max_tokens))
        text = "".join(block.text for block in message.content if block.type == "text")
        return Generation(text.strip(), self.name, _usage(message.usage))

    def _stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        with self._client.messages.stream(**self._request(prompt, max_tokens)) as stream:
            yield from stream.text_stream
            return _usage(stream.get_final_message().usage)

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

    def _failure(self, exc: Exception) -> Failure:
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            return Failure(status=exc.status_code, message=api_error_message(exc.body, exc.message))
        if isinstance(exc, anthropic.APITimeoutError):
            return Failure(timed_out=True)
        if isinstance(exc, anthropic.APIConnectionError):
            return Failure(unreachable=exc.__cause__ or exc)
        return Failure()


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        prompt_tokens=getattr(usage, "input_tokens", None),
        completion_tokens=getattr(usage, "output_tokens", None),
    )


SPEC = ProviderSpec(
    name="anthropic",
    build=AnthropicModel.from_config,
    settings="anthropic",
    key_env="KB_LLM__ANTHROPIC__API_KEY",
    key_required=True,
    stored_credentials=True,
)
