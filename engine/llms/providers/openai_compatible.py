"""Answering with any server that speaks the OpenAI chat-completions protocol.

The call goes through llama-index's ``OpenAILike`` (and under it the ``openai`` client). Every
failure of the provider becomes ``ProviderError``; the API key never appears in its detail.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from typing import Any

import openai
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import ChatMessage as LlamaChatMessage
from llama_index.core.llms import ChatResponse, MessageRole
from llama_index.llms.openai_like import OpenAILike

from engine.llms.base import Generation, Prompt
from kb.errors import ProviderError
from kb.models import Usage

# Sent when the server needs no key: the openai client refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"
_MAX_DETAIL_CHARS = 300


class OpenAICompatibleModel:
    """A chat model behind an OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama...)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        context_window: int = 8192,
        provider: str = "openai-compatible",
    ) -> None:
        # The same client serves OpenAI itself ("openai") and any compatible server.
        self.name = f"{provider}:{model}"
        self._where = (
            f"OpenAI API at {base_url}"
            if provider == "openai"
            else f"OpenAI-compatible server at {base_url}"
        )
        self.model = model
        self.base_url = base_url
        # Asked for token usage at the end of streams until a server refuses the option.
        self._stream_usage = True
        self.timeout_s = timeout_s
        self._api_key = api_key or PLACEHOLDER_API_KEY
        # The openai client retries (with backoff, honouring Retry-After) on connection errors,
        # 408/409/429 and 5xx. OpenAILike would wrap it in a second, tenacity retry loop sized by
        # the same max_retries (up to 20 s waits, attempts multiplied), so that loop is switched
        # off (max_retries=0) and the client is built here with the real retry budget.
        self._client = openai.OpenAI(
            api_key=self._api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        self._llm = OpenAILike(
            model=model,
            api_base=base_url,
            api_key=self._api_key,
            is_chat_model=True,
            context_window=context_window,
            temperature=temperature,
            timeout=timeout_s,
            max_retries=0,
            openai_client=self._client,
            # None keeps llama-index from ever asking tiktoken for an encoding (a download).
            tokenizer=None,
            callback_manager=CallbackManager([]),
        )

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The server's reply to the prompt's messages."""
        try:
            response = self._llm.chat(_to_llama_messages(prompt), max_tokens=max_tokens)
        except Exception as exc:
            # `from None`: the original exception (and its request) may carry the key.
            raise ProviderError(self._describe(exc), model=self.name) from None
        return Generation(
            text=(response.message.content or "").strip(),
            model=self.name,
            usage=_usage_of(response.raw),
        )

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """The server's reply, piece by piece as it is generated, returning the token usage the
        server reports in its last chunk (``stream_options.include_usage``)."""
        usage = Usage()
        try:
            for chunk in self._chunks(prompt, max_tokens):
                if chunk.delta:
                    yield chunk.delta
                reported = _usage_of(chunk.raw)
                if reported.prompt_tokens is not None or reported.completion_tokens is not None:
                    usage = reported
        except GeneratorExit:
            raise
        except Exception as exc:
            raise ProviderError(self._describe(exc), model=self.name) from None
        return usage

    def _chunks(self, prompt: Prompt, max_tokens: int) -> Iterator[ChatResponse]:
        """The streamed chunks, asking for usage unless this server refused the option once."""
        messages = _to_llama_messages(prompt)
        if self._stream_usage:
            chunks = self._llm.stream_chat(
                messages, max_tokens=max_tokens, stream_options={"include_usage": True}
            )
            try:
                first = next(chunks)  # the request is sent here
            except StopIteration:
                return
            except openai.BadRequestError as exc:
                if "stream_options" not in str(exc):
                    raise
                # An older OpenAI-compatible server: stream without usage from now on.
                self._stream_usage = False
            else:
                yield first
                yield from chunks
                return
        yield from self._llm.stream_chat(messages, max_tokens=max_tokens)

    def close(self) -> None:
        """Close the HTTP connections to the server."""
        self._client.close()

    def _describe(self, exc: Exception) -> str:
        """What went wrong, naming the HTTP status or cause, with the API key removed."""
        where = self._where
        if isinstance(exc, openai.APIStatusError):
            detail = f"{where} answered HTTP {exc.status_code}: {_error_message(exc)}"
        elif isinstance(exc, openai.APITimeoutError):
            detail = f"{where} did not answer within {self.timeout_s:g} s"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            detail = f"could not connect to {where}: {type(cause).__name__}: {cause}"
        else:
            detail = f"unusable answer from {where}: {type(exc).__name__}: {exc}"
        return detail.replace(self._api_key, "***")


def _to_llama_messages(prompt: Prompt) -> list[LlamaChatMessage]:
    return [
        LlamaChatMessage(role=MessageRole(message.role), content=message.content)
        for message in prompt.messages
    ]


def _error_message(exc: openai.APIStatusError) -> str:
    """The provider's own error message (OpenAI's ``{"error": {"message": ...}}``), shortened."""
    body = exc.body
    message: Any = None
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else error
    text = str(message) if message else exc.message
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "..."


def _usage_of(raw: Any) -> Usage:
    """Token counts from the raw ChatCompletion (object or dict), when the server sent them."""
    usage = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)
    if usage is None:
        return Usage()
    if isinstance(usage, Mapping):
        prompt_tokens, completion_tokens = (
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )
    else:
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
    return Usage(
        prompt_tokens=int(prompt_tokens) if prompt_tokens is not None else None,
        completion_tokens=int(completion_tokens) if completion_tokens is not None else None,
    )
