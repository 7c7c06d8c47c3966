"""A fallback chain: the next model answers when one fails.

A model fails with ``ProviderError`` (after its own retries) or ``ModelUnavailable`` (no key, no
server, cannot load). Models are built only when reached, so a chain may name a provider that is
not configured here. A stream falls back only before its first piece: text already sent cannot
be taken back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator

from engine.llms.base import AnswerModel, Generation, Prompt
from kb.errors import ModelUnavailable, ProviderError
from kb.models import Usage

log = logging.getLogger(__name__)

# Failures that another model may not share; anything else (a bug, bad input) is raised at once.
FALLBACK_ERRORS = (ProviderError, ModelUnavailable)


class FallbackModel:
    """Several models tried in order; ``Generation.model`` names the one that answered."""

    def __init__(self, specs: list[str], load: Callable[[str], AnswerModel]) -> None:
        self.specs = specs
        self._load = load
        self.name = self._first_name()

    def _first_name(self) -> str:
        """The name of the first model of the chain that can be built (the one that normally
        answers); models are cached by the loader, so this costs one build per model."""
        for spec in self.specs:
            try:
                return self._load(spec).name
            except ModelUnavailable:
                continue
        return self.specs[0]

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The reply of the first model of the chain that answers."""
        failure: ProviderError | ModelUnavailable | None = None
        for spec in self.specs:
            try:
                return self._load(spec).generate(prompt, max_tokens)
            except FALLBACK_ERRORS as exc:
                log.warning("model %s failed, trying the next: %s", spec, exc.detail)
                failure = exc
        assert failure is not None  # a chain has at least one model
        raise failure

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Generation]:
        """The reply piece by piece from the first model that starts answering; returns the
        model used and its usage (the text is left empty: the pieces carry it)."""
        failure: ProviderError | ModelUnavailable | None = None
        for spec in self.specs:
            try:
                llm = self._load(spec)
                stream = getattr(llm, "stream", None)
                if stream is None:
                    generation = llm.generate(prompt, max_tokens)
                    yield generation.text
                    return Generation("", generation.model, generation.usage)
                pieces: Generator[str, None, Usage | None] = stream(prompt, max_tokens)
                first, usage = _first(pieces)
            except FALLBACK_ERRORS as exc:
                log.warning("model %s failed, trying the next: %s", spec, exc.detail)
                failure = exc
                continue
            if first is not None:
                try:
                    yield first
                    usage = yield from pieces
                finally:
                    pieces.close()
            model = getattr(llm, "model_id", llm.name)
            return Generation("", model, usage if isinstance(usage, Usage) else Usage())
        assert failure is not None
        raise failure


def _first(pieces: Generator[str, None, Usage | None]) -> tuple[str | None, Usage | None]:
    """The stream's first piece, or None and what it returned when it ended at once; a model
    that fails to start fails here, while the next one can still take over."""
    try:
        return next(pieces), None
    except StopIteration as end:
        return None, end.value
