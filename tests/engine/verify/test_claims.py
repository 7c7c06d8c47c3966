"""Answers cut into claims: sentences, clauses joining two facts, markers, non-claims."""

from __future__ import annotations

from engine.verify import split_claims
from engine.verify.sentences import sentence_spans


def texts(answer: str) -> list[str]:
    return [claim.text for claim in split_claims(answer)]


def test_markers_belong_to_the_sentence_they_follow() -> None:
    answer = "Employees may work from home. [1] Holidays are 28 days [2][3]. Pay is monthly [1, 4]."
    claims = split_claims(answer)
    assert [c.text for c in claims] == [
        "Employees may work from home",
        "Holidays are 28 days",
        "Pay is monthly",
    ]
    assert [c.cited for c in claims] == [(1,), (2, 3), (1, 4)]
    assert all(answer[c.start : c.end] == c.text for c in claims)


def test_decimals_abbreviations_and_ellipses_do_not_end_sentences() -> None:
    answer = (
        "The rate is 3.5 percent, e.g. for Dr. Smith and M. Dupont [1]. "
        "Le taux est de 2,5 % … selon le contrat [2]. It rose... Then it fell [3]."
    )
    assert texts(answer) == [
        "The rate is 3.5 percent, e.g. for Dr. Smith and M. Dupont",
        "Le taux est de 2,5 % … selon le contrat",
        "It rose",
        "Then it fell",
    ]


def test_french_punctuation_and_quotes_stay_inside_the_sentence() -> None:
    answer = "Le manuel conseille « apt » pour installer [1]. Vraiment ? Oui, c’est écrit [1] !"
    # "Oui," answers the question; the claim is what follows it.
    assert texts(answer) == ["Le manuel conseille « apt » pour installer", "c’est écrit"]


def test_two_facts_joined_by_a_conjunction_become_two_claims() -> None:
    answer = "The office opens at 8 am [1] and core hours are 10 am to 3 pm [2]."
    claims = split_claims(answer)
    assert [(c.text, c.cited) for c in claims] == [
        ("The office opens at 8 am", (1,)),
        ("core hours are 10 am to 3 pm", (2,)),
    ]
    assert claims[0].sentence == claims[1].sentence


def test_french_clauses_split_on_mais_and_semicolons() -> None:
    answer = (
        "Les employés peuvent télétravailler trois jours, mais les jours sont convenus avec le "
        "responsable [1]. Le bureau ouvre à 8 h ; la cantine ferme à 14 h [2]."
    )
    assert texts(answer) == [
        "Les employés peuvent télétravailler trois jours",
        "les jours sont convenus avec le responsable",
        "Le bureau ouvre à 8 h",
        "la cantine ferme à 14 h",
    ]
    # A clause without markers of its own takes its sentence's.
    assert [c.cited for c in split_claims(answer)] == [(1,), (1,), (2,), (2,)]


def test_shared_subjects_and_noun_lists_are_not_split() -> None:
    answer = (
        "Employees may work from home and must tell their manager [1]. "
        "Cats and dogs are allowed in the office [2]. Unused days, up to five, carry over [3]."
    )
    assert texts(answer) == [
        "Employees may work from home and must tell their manager",
        "Cats and dogs are allowed in the office",
        "Unused days, up to five, carry over",
    ]


def test_greetings_lead_ins_questions_and_refusals_are_not_claims() -> None:
    answer = (
        "Hello! Here is what I found: Employees may work from home [1]. "
        "Do you want to know more? According to the handbook, holidays are 28 days [2]. "
        "I hope this helps."
    )
    assert texts(answer) == ["Employees may work from home", "holidays are 28 days"]
    assert split_claims("The knowledge base does not contain an answer to this question.") == []
    assert split_claims("**Remote work**\n\n# Holidays") == []


def test_list_items_are_claims_without_their_bullets() -> None:
    answer = "Key points:\n- Employees may work from home. [1]\n- Unused days carry over. [2]"
    claims = split_claims(answer)
    assert [(c.text, c.cited) for c in claims] == [
        ("Employees may work from home", (1,)),
        ("Unused days carry over", (2,)),
    ]


def test_passage_sentences_keep_exact_offsets_across_hard_wrapped_lines() -> None:
    passage = "# Remote work\n\nEmployees may work from home. Remote days are agreed\nin advance."
    spans = sentence_spans(passage)
    assert [passage[s:e] for s, e in spans] == [
        "# Remote work",
        "Employees may work from home.",
        "Remote days are agreed\nin advance.",
    ]
