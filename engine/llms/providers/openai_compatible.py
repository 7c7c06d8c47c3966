"""Answering with any server that speaks the OpenAI chat-completions protocol.

The call goes through llama-index's ``OpenAILike`` (and under it the ``openai`` client). Every
failure of the provider becomes ``ProviderError``; the API key never appears in its detail.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from engine.llms.base import Generation, Prompt
from engine.llms.providers.base import Failure, ProviderSpec, RemoteModel, api_error_message
from kb.models import Usage

if TYPE_CHECKING:
    import openai
    from llama_index.core.llms import ChatMessage as LlamaChatMessage
    from llama_index.core.llms import ChatResponse

# Sent when the server needs no key: the openai client refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"


class OpenAICompatibleModel(RemoteModel):
    """A chat model behind an OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama...)."""

    provider = "openai-compatible"
    service = "OpenAI-compatible server"

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        context_window: int = 8192,
    ) -> None:
        self._context_window = context_window
        # Asked for token usage at the end of streams until a server refuses the option.
        self._stream_usage = True
        key = api_key or PLACEHOLDER_API_KEY
        super().__init__(model, key, base_url, timeout_s, max_retries, temperature)

    def _connect(self) -> openai.OpenAI:
        import openai
        from llama_index.core.callbacks import CallbackManager
        from llama_index.llms.openai_like import OpenAILike

        # The openai client retries (with backoff, honouring Retry-After) on connection errors,
        # 408/409/429 and 5xx. OpenAILike would wrap it in a second, tenacity retry loop sized by
        # the same max_retries (up to 20 s waits, attempts multiplied), so that loop is switched
        # off (max_retries=0) and the client is built here with the real retry budget.
        client = openai.OpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
        )
        self._llm = OpenAILike(
            model=self.model,
            api_base=self.base_url,
            api_key=self._api_key,
            is_chat_model=True,
            context_window=self._context_window,
            temperature=self.temperature,
            timeout=self.timeout_s,
            max_retries=0,
            openai_client=client,
            # None keeps llama-index from ever asking tiktoken for an encoding (a download).
            tokenizer=None,
            callback_manager=CallbackManager([]),
        )
        return client

    def _generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        response = self._llm.chat(_to_llama_messages(prompt), max_tokens=max_tokens)
        return Generation(
            text=(response.message.content or "").strip(),
            model=self.name,
            usage=_usage_of(response.raw),
        )

    def _stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """The reply piece by piece, returning the token usage the server reports in its last
        chunk (``stream_options.include_usage``)."""
        usage = Usage()
        for chunk in self._chunks(prompt, max_tokens):
            if chunk.delta:
                yield chunk.delta
            reported = _usage_of(chunk.raw)
            if reported.prompt_tokens is not None or reported.completion_tokens is not None:
                usage = reported
        return usage

    def _chunks(self, prompt: Prompt, max_tokens: int) -> Iterator[ChatResponse]:
        """The streamed chunks, asking for usage unless this server refused the option once."""
        import openai

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

    def _failure(self, exc: Exception) -> Failure:
        import openai

        if isinstance(exc, openai.APIStatusError):
            return Failure(status=exc.status_code, message=api_error_message(exc.body, exc.message))
        if isinstance(exc, openai.APITimeoutError):
            return Failure(timed_out=True)
        if isinstance(exc, openai.APIConnectionError):
            return Failure(unreachable=exc.__cause__ or exc)
        return Failure()


def _to_llama_messages(prompt: Prompt) -> list[LlamaChatMessage]:
    from llama_index.core.llms import ChatMessage as LlamaChatMessage
    from llama_index.core.llms import MessageRole

    return [
        LlamaChatMessage(role=MessageRole(message.role), content=message.content)
        for message in prompt.messages
    ]


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


SPEC = ProviderSpec(
    name="openai-compatible",
    build=OpenAICompatibleModel.from_config,
    settings="openai_compatible",
    key_env="KB_LLM__OPENAI_COMPATIBLE__API_KEY",
    base_url_required=True,
    stored_credentials=True,
)
