"""Folding, stemming and stop words as the lexical index uses them."""

from __future__ import annotations

from kb.text import fold, index_terms, query_terms, words


def test_folding_removes_case_and_diacritics() -> None:
    assert fold("Éléphant") == "elephant"
    assert fold("Straße") == "strasse"
    assert words("L'été, à Noël : 3,5 % d'économie") == [
        "l",
        "ete",
        "a",
        "noel",
        "3",
        "5",
        "d",
        "economie",
    ]


def test_accents_do_not_change_a_words_term() -> None:
    """Folding comes before stemming, so typing accents or not gives the same term."""
    assert index_terms("éléphants", "fr") == index_terms("elephant", "fr")
    assert index_terms("Téléchargement", "fr") == index_terms("telecharger", "fr")
    assert index_terms("Lieferungen", "de") == index_terms("Lieferung", "de")
    assert index_terms("devoluciones", "es") == index_terms("devolución", "es")
    assert index_terms("spedizioni", "it") == index_terms("spedizione", "it")
    assert index_terms("running", "en") == index_terms("runs", "en")


def test_function_words_are_left_out_per_language() -> None:
    assert index_terms("Le prix de la livraison", "fr") == "prix livraison"
    assert [w.word for w in query_terms("who runs by the river", ["en"])] == ["runs", "river"]
    assert [w.word for w in query_terms("où est la facture", ["fr"])] == ["facture"]
    # Only function words: all of them are kept rather than none.
    assert [w.word for w in query_terms("to be or", ["en"])] == ["to", "be", "or"]


def test_a_query_word_carries_its_stem_in_each_language() -> None:
    [word] = query_terms("garanties", ["fr", "en"])
    assert word.terms == ("garant", "garanti")
    assert index_terms("un langage sans stemmer", "ja") == "un langage sans stemmer"
