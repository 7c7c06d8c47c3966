"""Answer-path messages in the user's language, with English as the fallback."""

from __future__ import annotations

import pytest

from engine.i18n import (
    LANGUAGES,
    MESSAGES,
    REFUSAL_PHRASES,
    REFUSALS,
    message,
    question_language,
    refusal,
)
from engine.llms.base import NOT_FOUND_ANSWER


def test_every_message_has_english_and_the_refusal_every_language() -> None:
    assert all("en" in texts for texts in MESSAGES.values())
    assert set(MESSAGES["refusal"]) == set(LANGUAGES)


def test_refusal_per_language_with_fallback() -> None:
    assert refusal("en") == NOT_FOUND_ANSWER
    assert refusal("fr") == "La base de connaissances ne contient pas de réponse à cette question."
    assert refusal("fr-CA") == refusal("FR") == refusal("fr_BE") == refusal("fr")
    assert refusal("de").startswith("Die Wissensdatenbank")
    assert refusal("ja") == refusal(None) == refusal("") == NOT_FOUND_ANSWER
    with pytest.raises(KeyError):
        message("no such message", "fr")


def test_all_refusals_are_exported_for_the_refusal_detector() -> None:
    assert len(REFUSALS) == len(LANGUAGES)
    assert refusal("it") in REFUSALS
    assert "la base de connaissances ne contient pas de réponse à cette question" in (
        REFUSAL_PHRASES
    )


@pytest.mark.parametrize(
    ("question", "profile", "expected"),
    [
        ("Quelle est la politique de retour ?", None, "fr"),
        ("What is your return policy?", "Français", "en"),  # the question's own language wins
        ("Wie setze ich mein Passwort zurück?", None, "de"),
        ("¿Cómo restablezco mi contraseña?", None, "es"),
        ("Come contattare il servizio clienti", None, "it"),
        ("Prix ?", "français", "fr"),  # too short to tell: the profile's
        ("Prix ?", "fr-CA", "fr"),
        ("SKU4471", None, "en"),
        ("SKU4471", "Pirate", "en"),
    ],
)
def test_question_language(question: str, profile: str | None, expected: str) -> None:
    assert question_language(question, profile) == expected


def test_question_language_default_is_the_callers() -> None:
    assert question_language("SKU4471", None, default="fr") == "fr"
