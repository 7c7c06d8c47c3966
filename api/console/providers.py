"""The console's "test connection" of a model provider: one tiny request through the model
registry, with the provider's current key (stored or from the environment)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.llms.base import ChatMessage, Prompt
from engine.llms.registry import ModelRegistry
from kb.errors import KBError

_PING = Prompt(
    messages=[ChatMessage(role="user", content="Reply with the word OK.")], question="OK?"
)


@dataclass(frozen=True)
class ConnectionCheck:
    """How a test request to a provider ended."""

    provider: str
    ok: bool
    message: str


def check_connection(models: ModelRegistry, provider: str) -> ConnectionCheck:
    """Ask ``provider`` for a few tokens; the error it answered with when it fails."""
    try:
        reply = models.get(provider).generate(_PING, max_tokens=5)
    except KBError as exc:  # ModelUnavailable (no key), ProviderError (refused, unreachable)
        return ConnectionCheck(provider, False, exc.detail)
    return ConnectionCheck(provider, True, f"Connected: {reply.model} answered.")
