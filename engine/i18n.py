"""The answer path's user-facing messages in the user's language (English, French, German,
Spanish, Italian), and which language a question is in.

Every message exists in English; another language falls back to it key by key. The refusal
("not in the knowledge base") is the one sentence an answer may consist of whole, so every
language's wording is exported (``REFUSALS``) for the refusal detector to recognise in a
model's reply.
"""

from __future__ import annotations

from engine.languages import language_code
from kb.text import detect_language

DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "refusal": {
        "en": "The knowledge base does not contain an answer to this question.",
        "fr": "La base de connaissances ne contient pas de réponse à cette question.",
        "de": "Die Wissensdatenbank enthält keine Antwort auf diese Frage.",
        "es": "La base de conocimientos no contiene una respuesta a esta pregunta.",
        "it": "La base di conoscenza non contiene una risposta a questa domanda.",
    },
}

LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "it")

# Every refusal in every language, as written and in lower case without the final stop (the
# form engine.grounding compares replies with).
REFUSALS: frozenset[str] = frozenset(MESSAGES["refusal"].values())
REFUSAL_PHRASES: tuple[str, ...] = tuple(
    sorted({text.lower().rstrip(".") for text in MESSAGES["refusal"].values()})
)


def message(key: str, language: str | None, **values: str) -> str:
    """Message ``key`` in ``language`` (an ISO code or tag, e.g. "fr" or "fr-CA"), else in
    English; ``values`` fill its ``{placeholders}``. Raises KeyError for an unknown key."""
    texts = MESSAGES[key]
    code = (language or "").replace("_", "-").partition("-")[0].lower()
    text = texts.get(code) or texts[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def refusal(language: str | None) -> str:
    """The honest "not in the knowledge base" in ``language`` (English when not translated)."""
    return message("refusal", language)


def question_language(
    text: str, profile_language: str | None = None, default: str = DEFAULT_LANGUAGE
) -> str:
    """The ISO 639-1 code of the language to answer ``text`` in: the question's own when it
    is long enough to tell, else the asker's profile language (a name or tag: "Français",
    "fr-CA"), else ``default`` (e.g. the knowledge base's main language)."""
    return detect_language(text) or language_code(profile_language) or default
