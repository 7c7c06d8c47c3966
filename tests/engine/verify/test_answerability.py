"""Whether evidence answers the question: the near-miss check on handmade cases."""

from __future__ import annotations

from engine.verify.answerability import AnswerabilityCheck, has_number, question_terms
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder

REMOTE = "Employees may work from home up to three days per week."
HOLIDAY = "Every full-time employee gets 28 days of paid holiday per year, plus public holidays."


def test_evidence_that_answers_passes(embedder: SentenceTransformerEmbedder) -> None:
    check = AnswerabilityCheck(embedder)
    verdict = check.check(
        "How many days per week may employees work from home?", [REMOTE], [REMOTE]
    )
    assert verdict.answerable, verdict


def test_a_near_miss_on_the_topic_is_refused(embedder: SentenceTransformerEmbedder) -> None:
    """The handbook speaks of holidays; the question asks about paternity leave."""
    check = AnswerabilityCheck(embedder)
    verdict = check.check("How many weeks of paternity leave do fathers get?", [HOLIDAY], [HOLIDAY])
    assert not verdict.answerable and verdict.reason != "answerable"


def test_a_quantity_question_needs_a_number(embedder: SentenceTransformerEmbedder) -> None:
    evidence = "Remote days are agreed with your manager in advance."
    check = AnswerabilityCheck(embedder)
    verdict = check.check(
        "How many remote days are agreed with the manager?", [evidence], [evidence]
    )
    assert verdict.reason == "the question asks for a number the evidence does not give"
    assert has_number("trois jours") and has_number("3 days") and not has_number("some days")


def test_a_code_typed_alone_is_answered_whatever_the_similarity(
    embedder: SentenceTransformerEmbedder,
) -> None:
    check = AnswerabilityCheck(embedder)
    assert check.check("ORD88412", ["Reference ORD88412."], ["Reference ORD88412."]).answerable


def test_question_words_are_not_content() -> None:
    assert question_terms("How many days?") == question_terms("days")
    assert "combien" not in question_terms("Combien de jours de congés ?")
