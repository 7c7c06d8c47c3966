"""How well a window of passage sentences supports a claim: content-word coverage, the claim's
hard facts, and contradiction (negation, antonyms); the embedding half lives in the verifier.

A window is 1 to 3 consecutive sentences of one passage; its quote is the exact passage text
from its first sentence's start to its last sentence's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from engine.verify.claims import Claim
from engine.verify.facts import Fact, Key, extract_facts, fact_keys
from engine.verify.polarity import Polarity, antonym_conflict, negation_conflict, polarity
from engine.verify.sentences import sentence_spans
from engine.verify.text import content_stems, fold, language, words

MAX_WINDOW = 3
_NON_WORD = re.compile(r"[^\w]+")
_HEADING = re.compile(r"^(?:#{1,6}\s|---+$|===+$)")


@dataclass(eq=False)
class SentenceView:
    """One passage sentence, analysed once per verification; its facts and polarity only
    when a claim needs them."""

    start: int
    end: int
    text: str
    lang: str
    stems: frozenset[str]
    length: int
    asserts: bool

    @cached_property
    def facts(self) -> frozenset[Key]:
        """The keys of the sentence's hard facts."""
        return fact_keys(self.text, self.lang)

    @cached_property
    def polarity(self) -> Polarity:
        """The sentence's negations and stems."""
        return polarity(self.text, self.lang)


@dataclass(eq=False)
class PassageView:
    """A passage as the verifier reads it: numbered like the answer's markers (from 1)."""

    number: int
    text: str
    lang: str
    sentences: tuple[SentenceView, ...]
    vocabulary: frozenset[str]

    @cached_property
    def windows(self) -> list[Window]:
        """The passage's windows (see ``windows``)."""
        return _windows(self)

    @cached_property
    def by_prefix(self) -> dict[str, frozenset[str]]:
        """The vocabulary's words of four letters or more, by their first four letters."""
        index: dict[str, set[str]] = {}
        for word in self.vocabulary:
            if len(word) >= 4:
                index.setdefault(word[:4], set()).add(word)
        return {prefix: frozenset(found) for prefix, found in index.items()}


@dataclass(frozen=True)
class Window:
    """Sentences ``first``..``last`` (inclusive) of a passage."""

    passage: PassageView
    first: int
    last: int

    @property
    def sentences(self) -> tuple[SentenceView, ...]:
        """The window's sentences."""
        return self.passage.sentences[self.first : self.last + 1]

    @property
    def start(self) -> int:
        """Where the window starts in the passage text."""
        return self.passage.sentences[self.first].start

    @property
    def end(self) -> int:
        """Where the window ends in the passage text (exclusive)."""
        return self.passage.sentences[self.last].end

    @property
    def quote(self) -> str:
        """The window's exact passage text."""
        return self.passage.text[self.start : self.end]

    @property
    def size(self) -> int:
        """How many sentences the window holds."""
        return self.last - self.first + 1


@dataclass
class ClaimView:
    """A claim with its facts, and its stems and polarity per passage language (cached)."""

    claim: Claim
    tokens: list[str] = field(init=False)
    lang: str = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = words(self.claim.text)
        self.lang = language(self.tokens)
        self._stems: dict[str, frozenset[str]] = {}
        self._polarity: dict[str, Polarity] = {}

    @cached_property
    def facts(self) -> list[Fact]:
        """The claim's hard facts, names included."""
        return extract_facts(self.claim.text, lang=self.lang)

    def stems(self, lang: str) -> frozenset[str]:
        """The claim's content stems in ``lang``."""
        if lang not in self._stems:
            self._stems[lang] = frozenset(content_stems(self.tokens, lang))
        return self._stems[lang]

    def polarity(self, lang: str) -> Polarity:
        """The claim's negations and stems in ``lang``."""
        if lang not in self._polarity:
            self._polarity[lang] = polarity(self.claim.text, lang)
        return self._polarity[lang]


def analyse_passage(number: int, text: str) -> PassageView:
    """Sentences with their stems, fact keys and polarity; the passage's words for names."""
    spans = sentence_spans(text)
    tokens = [words(text[start:end]) for start, end in spans]
    lang = language([t for sentence in tokens for t in sentence])
    sentences = tuple(
        SentenceView(
            start,
            end,
            text[start:end],
            lang,
            frozenset(content_stems(found, lang)),
            max(len(found), 1),
            _asserts(text[start:end]),
        )
        for (start, end), found in zip(spans, tokens, strict=True)
    )
    vocabulary = frozenset(fold(t) for sentence in tokens for t in sentence)
    return PassageView(number, text, lang, sentences, vocabulary)


def _asserts(sentence: str) -> bool:
    return not sentence.rstrip("\"'”’»)]*_ ").endswith("?") and not _HEADING.match(sentence)


def windows(passage: PassageView) -> list[Window]:
    """Every run of 1 to ``MAX_WINDOW`` consecutive statements: questions and headings
    assert nothing, so no window holds one. Built once per passage view."""
    return passage.windows


def _windows(passage: PassageView) -> list[Window]:
    found = []
    sentences = passage.sentences
    for first in range(len(sentences)):
        for last in range(first, min(first + MAX_WINDOW, len(sentences))):
            if not sentences[last].asserts:
                break
            found.append(Window(passage, first, last))
    return found


def window_stems(window: Window) -> frozenset[str]:
    """The union of the window's sentence stems."""
    if window.size == 1:
        return window.sentences[0].stems
    return frozenset().union(*(s.stems for s in window.sentences))


def coverage(claim: ClaimView, window: Window) -> float:
    """The share of the claim's content stems found in the window (1.0 if it has none)."""
    stems = claim.stems(window.passage.lang)
    if not stems:
        return 1.0
    return len(stems & window_stems(window)) / len(stems)


def quotes(claim: ClaimView, window: Window) -> bool:
    """Whether the window contains the claim word for word (case, accents and punctuation
    aside): an extractive answer's sentences, or a trimmed quote."""
    words_only = _flatten(claim.claim.text)
    return len(words_only.split()) >= 3 and words_only in _flatten(window.quote)


def _flatten(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", fold(text)).split())


def contributes(claim: ClaimView, window: Window) -> bool:
    """Whether every sentence of a multi-sentence window adds claim words the others lack:
    a longer window is only worth its length when the claim spans its sentences."""
    if window.size == 1:
        return True
    stems = claim.stems(window.passage.lang)
    parts = [s.stems & stems for s in window.sentences]
    for i, part in enumerate(parts):
        others = frozenset().union(*(p for j, p in enumerate(parts) if j != i))
        if not part - others:
            return False
    return True


def missing_facts(claim: ClaimView, window: Window) -> list[Fact]:
    """The claim's facts the window does not state; names may be anywhere in the passage."""
    if not claim.facts:
        return []
    keys = frozenset().union(*(s.facts for s in window.sentences))
    missing = []
    for fact in claim.facts:
        if fact.kind == "name":
            if not _name_in(fact.options[0][0][1], window.passage):
                missing.append(fact)
        elif not any(all(key in keys for key in option) for option in fact.options):
            missing.append(fact)
    return missing


def _name_in(name: str, passage: PassageView) -> bool:
    """The name as a word of the passage, or a word it extends by at most two letters or
    that extends it so ("Jamaican" for "Jamaica", "Germany" for "German")."""
    if name in passage.vocabulary:
        return True
    if len(name) < 4:
        return False
    return any(
        0 < abs(len(word) - len(name)) <= 2 and (word.startswith(name) or name.startswith(word))
        for word in passage.by_prefix.get(name[:4], ())
    )


def contradicts(claim: ClaimView, window: Window) -> bool:
    """A negation mismatch with the window sentence closest to the claim, or an antonym
    mismatch with the window."""
    lang = window.passage.lang
    stems = claim.stems(lang)
    aligned = max(window.sentences, key=lambda s: len(s.stems & stems))
    mine = claim.polarity(lang)
    if negation_conflict(mine, aligned.polarity):
        return True
    if window.size == 1:
        return antonym_conflict(mine, aligned.polarity.stems, lang)
    return antonym_conflict(
        mine, frozenset().union(*(s.polarity.stems for s in window.sentences)), lang
    )
