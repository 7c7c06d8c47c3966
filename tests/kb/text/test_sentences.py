"""Sentence and clause cuts for French and English text, and for text made of marks alone."""

from __future__ import annotations

import pytest

from kb.text.sentences import coalesce, split_clauses, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "M. Dupont est arrivé. Mme Durand aussi. Il a payé 3,5 % de plus, p. ex. sur le prix.",
            ["M. Dupont est arrivé. ", "Mme Durand aussi. ",
             "Il a payé 3,5 % de plus, p. ex. sur le prix."],
        ),
        (
            "Il a dit : « C'est fini. » Puis il est parti. « Tu viens ? » demanda-t-il. Non !",
            ["Il a dit : « C'est fini. » ", "Puis il est parti. ",
             "« Tu viens ? » demanda-t-il. ", "Non !"],
        ),
        (
            "Voir chap. 3, fig. 2 et cf. Annexe 4. Le taux passe de 2,5 à 3,75 %. Fin.",
            ["Voir chap. 3, fig. 2 et cf. Annexe 4. ", "Le taux passe de 2,5 à 3,75 %. ", "Fin."],
        ),
        (
            "Dr. Smith met J. R. R. Tolkien. It cost 3.5 dollars. Really? Yes!",
            ["Dr. Smith met J. R. R. Tolkien. ", "It cost 3.5 dollars. ", "Really? ", "Yes!"],
        ),
        ("Siehe z. B. Kapitel 3. Das ist gut.", ["Siehe z. B. Kapitel 3. ", "Das ist gut."]),
        (
            "Les fruits, légumes, etc. sont frais. Ensuite…",
            ["Les fruits, légumes, etc. sont frais. ", "Ensuite…"],
        ),
    ],
)  # fmt: skip
def test_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences
    assert "".join(split_sentences(text)) == text


def test_marks_alone_make_one_sentence_and_few_clauses() -> None:
    """Regression: 400 KB of ". " made one piece per mark, each sized and merged (9 s)."""
    text = ". " * 10_000
    assert split_sentences(text) == [text]
    clauses = split_clauses(text)
    assert "".join(clauses) == text and len(clauses) <= len(text) // 48


def test_clauses_keep_decimal_commas_and_join_back() -> None:
    text = "Le prix, soit 3,5 % du total, est fixé; il change parfois: souvent, toujours."
    clauses = split_clauses(text, min_chars=1)
    assert "".join(clauses) == text
    assert not any(c.endswith("3,") for c in clauses)
    assert clauses[0] == "Le prix,"
    assert coalesce(["ab", "cd", "e"], min_chars=4) == ["abcde"]
