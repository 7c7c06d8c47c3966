"""Answering with a model served by Ollama, through the official ``ollama`` client.

The ``ollama`` client does not retry, so ``generate`` retries 408/409/429 and 5xx answers here,
waiting as long as the server's ``Retry-After`` asks (``engine.llms.retry``; a proxy or
Ollama's cloud in front of the model may say), else with exponential backoff; a stream is not
retried. Failures become ``ProviderError``; an API key (for an Ollama behind an authenticating
proxy, or Ollama's cloud) never appears in their detail.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from engine.llms.base import Generation, Prompt
from engine.llms.providers.base import Failure, ProviderSpec, RemoteModel
from engine.llms.retry import hinted_delay_s
from kb.models import Usage

if TYPE_CHECKING:
    import httpx
    import ollama


class OllamaModel(RemoteModel):
    """A chat model on an Ollama server (local or remote)."""

    provider = "ollama"
    service = "Ollama"
    retries_here = True

    def __init__(
        self,
        model: str,
        base_url: str,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        backoff_s: float = 0.5,
        api_key: str | None = None,
    ) -> None:
        # The client's errors carry no headers: each thread notes its last answer's hint.
        self._hint = threading.local()
        super().__init__(model, api_key, base_url, timeout_s, max_retries, temperature, backoff_s)

    def _connect(self) -> ollama.Client:
        import ollama

        auth = {"authorization": f"Bearer {self._api_key}"} if self._api_key else None
        return ollama.Client(
            host=self.base_url,
            timeout=self.timeout_s,
            headers=auth,
            event_hooks={"response": [self._note_hint]},
        )

    def _note_hint(self, response: httpx.Response) -> None:
        """Keeps how long a failed answer asked to wait (``Retry-After``), for the retries."""
        failed = response.status_code >= 400
        self._hint.delay_s = hinted_delay_s(response.headers) if failed else None

    def _generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        response = self._client.chat(**self._request(prompt, max_tokens))
        return Generation((response.message.content or "").strip(), self.name, _usage(response))

    def _stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        usage = Usage()
        for chunk in self._client.chat(**self._request(prompt, max_tokens), stream=True):
            if chunk.message.content:
                yield chunk.message.content
            if chunk.done:
                usage = _usage(chunk)
        return usage

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "options": {"num_predict": max_tokens, "temperature": self.temperature},
        }

    def _failure(self, exc: Exception) -> Failure:
        import httpx
        import ollama

        if isinstance(exc, ollama.ResponseError):
            return Failure(status=exc.status_code, message=exc.error)
        if isinstance(exc, httpx.TimeoutException):
            return Failure(timed_out=True)
        if isinstance(exc, ConnectionError | httpx.TransportError):
            return Failure(unreachable=exc)
        return Failure()

    def _hinted_delay_s(self, exc: Exception) -> float | None:
        delay: float | None = getattr(self._hint, "delay_s", None)
        return delay


def _usage(response: Any) -> Usage:
    return Usage(
        prompt_tokens=getattr(response, "prompt_eval_count", None),
        completion_tokens=getattr(response, "eval_count", None),
    )


SPEC = ProviderSpec(
    name="ollama",
    build=OllamaModel.from_config,
    settings="ollama",
    key_env="KB_LLM__OLLAMA__API_KEY",
    base_url_required=True,
    stored_credentials=True,
)
