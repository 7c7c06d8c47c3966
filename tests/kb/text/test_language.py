"""Language detection on short texts, with the bundled py3langid model (offline)."""

from __future__ import annotations

import pytest

from kb.text import chunk_languages, detect_language, query_languages


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Quels sont vos horaires d'ouverture ?", "fr"),
        ("Comment réinitialiser mon mot de passe ?", "fr"),
        ("Mon colis n'est pas arrivé", "fr"),
        ("What are your opening hours?", "en"),
        ("How do I reset my password?", "en"),
        ("Wie setze ich mein Passwort zurück?", "de"),
        ("Ich möchte meine Bestellung stornieren", "de"),
        ("¿Cómo restablezco mi contraseña?", "es"),
        ("Quiero cancelar mi pedido", "es"),
        ("Come contattare il servizio clienti", "it"),
        ("Il mio pacco non è arrivato", "it"),
    ],
)
def test_short_questions_are_recognised(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "ok", "ERR4711", "42 %", "https://x.y/z"])
def test_too_short_or_not_words_gives_none(text: str) -> None:
    assert detect_language(text) is None


def test_short_chunks_take_their_documents_language() -> None:
    """A heading or a list of names alone is no evidence: it takes its document's language."""
    french = "Le colis est livré sous trois jours ouvrés, sauf pendant les périodes de fêtes."
    languages = chunk_languages(
        [("doc_fr", french), ("doc_fr", "Paris, France."), ("doc_en", "Paris, France.")],
        fallback="en",
    )
    assert languages == ["fr", "fr", "en"]
    assert chunk_languages([("d", "ok")], fallback=None) == ["en"]


def test_query_languages_put_the_query_first_then_the_collection() -> None:
    collection = [("fr", 0.7), ("en", 0.3)]
    assert query_languages("What is the return policy?", collection) == ["en", "fr"]
    assert query_languages("Quelle est la politique de retour ?", collection) == ["fr", "en"]
    assert query_languages("ERR4711", collection) == ["fr", "en"]  # undetected: the main one
    # Detected as a language the collection does not have: read in the collection's.
    assert query_languages("Quelle est la politique de retour ?", [("en", 1.0)]) == ["en"]
    assert query_languages("garantie", []) == ["en"]
