"""Whole answers verified against the handbook: unsupported claims dropped or flagged, each
supported claim's markers pointing at a passage that supports it."""

from __future__ import annotations

from engine.llms.base import Prompt
from engine.llms.extractive import ExtractiveModel
from engine.verify import HeuristicVerifier, verify_answer
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.models import Chunk, Passage

# handbook_sections: 1 working hours, 2 remote work, 3 holidays, 4 expenses.


def test_a_supported_answer_is_kept_as_written(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = (
        "Employees may work from home up to three days per week [2]. Every full-time employee "
        "gets 28 days of paid holiday per year [3]."
    )
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.supported
    assert result.text == answer
    assert [v.passage for v in result.verdicts] == [2, 3]


def test_a_marker_citing_the_wrong_passage_is_corrected(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = "Employees may work from home up to three days per week [1]. Pay is monthly [4]."
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.text.startswith("Employees may work from home up to three days per week [2].")


def test_a_supported_claim_without_a_marker_gets_one(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = "Employees may work from home up to three days per week."
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.text == "Employees may work from home up to three days per week [2]."


def test_unsupported_claims_are_dropped_or_flagged(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = (
        "Employees may work from home up to three days per week [2]. Pets are welcome in the "
        "office [1]. Unused days, up to five, carry over to the next year [3]."
    )
    dropped = verify_answer(answer, handbook_sections, verifier, policy="drop")
    assert dropped.text == (
        "Employees may work from home up to three days per week [2]. Unused days, up to five, "
        "carry over to the next year [3]."
    )
    assert [v.claim.text for v in dropped.unsupported] == ["Pets are welcome in the office"]
    flagged = verify_answer(answer, handbook_sections, verifier, policy="flag")
    assert flagged.text == answer
    assert not flagged.supported


def test_an_unsupported_clause_goes_and_its_sentence_stays(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = (
        "The office is open from 8 am to 6 pm [1] and employees may work from home up to five "
        "days per week [2]."
    )
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.text == "The office is open from 8 am to 6 pm [1]."
    assert [v.reason for v in result.verdicts] == ["supported", "missing_fact"]
    answer = "The office is open from 8 am to 9 pm [1] and core hours are 10 am to 3 pm [1]."
    assert verify_answer(answer, handbook_sections, verifier).text == (
        "Core hours are 10 am to 3 pm [1]."
    )


def test_clauses_sharing_one_marker_are_cited_apart_when_their_passages_differ(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = "Employees may work from home three days a week and holidays are 28 days [2]."
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.text == (
        "Employees may work from home three days a week [2] and holidays are 28 days [3]."
    )


def test_a_dropped_list_item_takes_its_line_with_it(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = (
        "In short:\n- Employees may work from home up to three days per week. [2]\n"
        "- Pets are welcome in the office. [1]\n- Unused days carry over, up to five. [3]"
    )
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.text == (
        "In short:\n- Employees may work from home up to three days per week. [2]\n"
        "- Unused days carry over, up to five. [3]"
    )


def test_an_answer_with_nothing_supported_becomes_empty(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    result = verify_answer("The moon is made of cheese [1].", handbook_sections, verifier)
    assert (result.text, result.supported) == ("", False)
    refusal = "The knowledge base does not contain an answer to this question."
    result = verify_answer(refusal, handbook_sections, verifier)
    assert (result.text, result.verdicts, result.supported) == (refusal, (), True)


def test_the_extractive_answerers_answer_is_supported_as_cited(
    verifier: HeuristicVerifier,
    handbook_sections: list[str],
    embedder: SentenceTransformerEmbedder,
) -> None:
    passages = [
        Passage(
            Chunk(f"c{n}", "kb", "doc", "v1", n, text, "Handbook", "h.md", "text/markdown", 0, 0),
            1.0,
        )
        for n, text in enumerate(handbook_sections)
    ]
    question = "How many days can I work from home, and how many holidays do I get?"
    prompt = Prompt(messages=[], question=question, passages=passages)
    answer = ExtractiveModel(embedder).generate(prompt, 200).text
    result = verify_answer(answer, handbook_sections, verifier)
    assert result.verdicts and result.supported, result.verdicts
    assert result.text == answer
    for verdict in result.verdicts:
        assert verdict.passage in verdict.claim.cited
        assert verdict.quote == handbook_sections[verdict.passage - 1][verdict.start : verdict.end]
