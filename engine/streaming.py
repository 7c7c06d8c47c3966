"""Streaming answers: the events a stream yields, and the pieces of a model's reply as written."""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field

from engine.llms.base import AnswerModel, Generation, Prompt
from kb.models import Answer, Usage

# Extractive answers end each sentence with its marker; breaking after markers gives a few
# natural deltas rather than one blob.
_PIECE_BREAK = re.compile(r"(?<=\])\s+")
_MAX_MARKER_CHARS = 5  # "[123]"


@dataclass(frozen=True)
class Delta:
    """A piece of the answer's text, as generated."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The checked answer once generation ends, with the ids of what was stored for it."""

    answer: Answer
    ids: dict[str, str] = field(default_factory=dict)
    # The text the deltas added up to: when it differs from ``answer.answer`` (claims dropped,
    # markers corrected, a refusal), clients replace what they showed.
    streamed: str | None = None
    # Buttons offered with the answer (engine.quick_replies), as their JSON objects.
    quick_replies: tuple[dict[str, str], ...] = ()

    @property
    def replaced(self) -> bool:
        """Whether the checked text differs from what was streamed."""
        return self.streamed is not None and self.streamed != self.answer.answer


StreamEvent = Delta | Finished


@dataclass
class ModelRun:
    """What is known about a streamed generation once it ends."""

    model: str
    usage: Usage = field(default_factory=Usage)


def model_pieces(
    llm: AnswerModel, prompt: Prompt, max_tokens: int, run: ModelRun
) -> Generator[str, None, None]:
    """The reply's text pieces: token deltas from models that stream, else the whole reply cut
    after each citation marker. Closing this generator closes the model's stream."""
    stream = getattr(llm, "stream", None)
    if stream is None:
        generation = llm.generate(prompt, max_tokens)
        run.model, run.usage = generation.model, generation.usage
        for piece in _PIECE_BREAK.split(generation.text):
            if piece:
                yield piece + " "
        return
    pieces: Generator[str, None, Usage | Generation | None] = stream(prompt, max_tokens)
    try:
        # A model that knows its token counts once the stream ends returns them; a fallback
        # chain returns a Generation naming the model that answered.
        ended = yield from pieces
    finally:
        pieces.close()
    run.model = getattr(llm, "model_id", llm.name)
    if isinstance(ended, Generation):
        run.model, run.usage = ended.model, ended.usage
    elif isinstance(ended, Usage):
        run.usage = ended


class MarkerFilter:
    """Drops citation markers that point at no passage from streamed text, as ``finish_answer``
    does for the whole text, so that the deltas add up to what is checked."""

    def __init__(self, passage_count: int) -> None:
        self._count = passage_count
        self._held = ""

    def feed(self, text: str) -> str:
        """The part of ``text`` (after anything held back) that is safe to emit now."""
        out: list[str] = []
        for char in text:
            if not self._held:
                if char == "[":
                    self._held = char
                else:
                    out.append(char)
            elif char.isdigit() and len(self._held) < _MAX_MARKER_CHARS - 1:
                self._held += char
            elif char == "]":
                out.append(self._release(self._held + char))
                self._held = ""
            else:
                # Not a marker after all: let it through, unless a new one starts here.
                out.append(self._held)
                self._held = "[" if char == "[" else ""
                if char != "[":
                    out.append(char)
        return "".join(out)

    def flush(self) -> str:
        """Whatever is still held back at the end of the stream."""
        held, self._held = self._held, ""
        return held

    def _release(self, held: str) -> str:
        match = re.fullmatch(r"\[(\d{1,3})\]", held)
        if match and not 1 <= int(match.group(1)) <= self._count:
            return ""
        return held
