"""Answering with Google's Gemini models through the official ``google-genai`` client.

408/429/5xx answers are retried here (``max_retries`` times), waiting as long as the server asks
(``Retry-After``, or Google's ``RetryInfo.retryDelay`` in the error body), else with exponential
backoff; the client's own retries are off, since they ignore both. A stream is retried until its
first piece arrives, not after. Every failure becomes ``ProviderError``; the API key
never appears in its detail.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from engine.llms.base import Generation, Prompt
from engine.llms.providers.base import Failure, ProviderSpec, RemoteModel
from engine.llms.retry import hinted_delay_s
from kb.models import Usage

if TYPE_CHECKING:
    from google import genai
    from google.genai import types


class GeminiModel(RemoteModel):
    """A Gemini model behind the Gemini Developer API (``generateContent``)."""

    provider = "gemini"
    service = "Gemini API"
    default_host = "generativelanguage.googleapis.com"
    retries_here = True
    retry_statuses = frozenset({408, 429, 500, 502, 503, 504})
    retry_streams = True

    def _connect(self) -> genai.Client:
        from google import genai
        from google.genai import types

        return genai.Client(
            api_key=self._api_key,
            # vertexai=False: never pick up Vertex AI settings from the environment.
            vertexai=False,
            # v1beta pinned: the client's default moved between releases (and follows an
            # environment variable); v1beta has every field sent here.
            http_options=types.HttpOptions(
                base_url=self.base_url,
                api_version="v1beta",
                timeout=int(self.timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),  # retried in RemoteModel
            ),
        )

    def _generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        response = self._client.models.generate_content(**self._request(prompt, max_tokens))
        return Generation(_text(response).strip(), self.name, _usage(response.usage_metadata))

    def _stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        usage = Usage()
        for chunk in self._client.models.generate_content_stream(
            **self._request(prompt, max_tokens)
        ):
            if text := _text(chunk):
                yield text
            if chunk.usage_metadata is not None:
                usage = _usage(chunk.usage_metadata)
        return usage

    def _request(self, prompt: Prompt, max_tokens: int) -> dict[str, Any]:
        from google.genai import types

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
            temperature=self.temperature,
        )
        return {"model": self.model, "contents": contents, "config": config}

    def _failure(self, exc: Exception) -> Failure:
        import httpx
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            return Failure(status=exc.code, message=str(exc.message or exc.status or ""))
        if "timeout" in type(exc).__name__.lower():
            return Failure(timed_out=True)
        if isinstance(exc, httpx.TransportError):
            return Failure(unreachable=exc)
        return Failure()

    def _hinted_delay_s(self, exc: Exception) -> float | None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return hinted_delay_s(headers, getattr(exc, "details", None))


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


SPEC = ProviderSpec(
    name="gemini",
    build=GeminiModel.from_config,
    settings="gemini",
    key_env="KB_LLM__GEMINI__API_KEY",
    key_required=True,
    stored_credentials=True,
)
