"""Claims checked against passages with the real bundled embedder: what a reader would call
supported passes, a changed fact, a negation, a swapped name or an antonym does not."""

from __future__ import annotations

import pytest

from engine.verify import Claim, ClaimVerdict, HeuristicVerifier, split_claims

REMOTE = (
    "# Remote work\n\nEmployees may work from home up to three days per week. Remote days are "
    "agreed with your manager\nat least one day in advance."
)
HOLIDAYS = (
    "Every full-time employee gets 28 days of paid holiday per year, plus public holidays. "
    "Unused days, up to five, carry over to the next year."
)
FRENCH = (
    "Le taux de TVA réduit est de 5,5 % depuis le 1er janvier 2014. Les factures sont payées "
    "sous trente jours. Le télétravail est autorisé deux jours par semaine."
)
FAHRENHEIT = (
    "Daniel Gabriel Fahrenheit was the German physicist who invented the alcohol thermometer "
    "in 1709, and the mercury thermometer in 1714."
)


def check(verifier: HeuristicVerifier, text: str, *passages: str) -> ClaimVerdict:
    claim = Claim(text, 0, len(text), (1,))
    return verifier.verify([claim], list(passages))[0]


@pytest.mark.parametrize(
    "claim",
    [
        "Employees may work from home up to three days per week.",
        "Employees may work from home up to 3 days a week.",
        "Staff can work remotely for a maximum of 3 days each week.",
        "Remote days must be agreed with your manager at least one day ahead.",
    ],
)
def test_supported_and_paraphrased_claims_pass(verifier: HeuristicVerifier, claim: str) -> None:
    verdict = check(verifier, claim, REMOTE)
    assert verdict.supported, verdict
    assert verdict.reason == "supported"


def test_a_changed_number_is_refused_as_a_missing_fact(verifier: HeuristicVerifier) -> None:
    verdict = check(verifier, "Employees may work from home up to four days per week.", REMOTE)
    assert not verdict.supported
    assert verdict.reason == "missing_fact"
    assert verdict.missing == ("four…days",)
    verdict = check(verifier, "Every full-time employee gets 29 days of paid holiday.", HOLIDAYS)
    assert (verdict.supported, verdict.missing) == (False, ("29…days",))


def test_a_negated_claim_is_contradicted(verifier: HeuristicVerifier) -> None:
    assert check(verifier, "Employees may work from home.", REMOTE).supported
    verdict = check(verifier, "Employees may not work from home.", REMOTE)
    assert (verdict.supported, verdict.reason) == (False, "contradicted")
    verdict = check(verifier, "Unused days do not carry over to the next year.", HOLIDAYS)
    assert (verdict.supported, verdict.reason) == (False, "contradicted")


def test_antonyms_are_contradictions(verifier: HeuristicVerifier) -> None:
    for claim, passage in [
        ("Every full-time employee gets 28 days of unpaid holiday per year.", HOLIDAYS),
        ("Every part-time employee gets 28 days of paid holiday per year.", HOLIDAYS),
        ("Remote days are agreed with your manager at most one day in advance.", REMOTE),
        ("Le télétravail est interdit deux jours par semaine.", FRENCH),
    ]:
        verdict = check(verifier, claim, passage)
        assert (verdict.supported, verdict.reason) == (False, "contradicted"), claim


def test_a_swapped_name_is_refused(verifier: HeuristicVerifier) -> None:
    claim = "The mercury thermometer was invented by Fahrenheit."
    assert check(verifier, claim, FAHRENHEIT).supported
    verdict = check(verifier, "The mercury thermometer was invented by Celsius.", FAHRENHEIT)
    assert (verdict.supported, verdict.missing) == (False, ("Celsius",))
    assert not check(verifier, "The French physicist Fahrenheit invented it.", FAHRENHEIT).supported


def test_french_decimals_percentages_and_dates_normalise(verifier: HeuristicVerifier) -> None:
    for same in (
        "Le taux réduit de TVA est de 5.5% depuis le 1er janvier 2014.",
        "Le taux de TVA réduit est de 5,5 % depuis le 01/01/2014.",
        "Depuis janvier 2014, le taux de TVA réduit vaut cinq virgule cinq pour cent.",
    ):
        assert check(verifier, same, FRENCH).supported, same
    assert check(verifier, "Les factures sont payées sous 30 jours.", FRENCH).supported
    for wrong in (
        "Le taux de TVA réduit est de 5,6 % depuis 2014.",
        "Le taux de TVA réduit est de 5,5 % depuis le 1er janvier 2015.",
        "Les factures sont payées sous quarante jours.",
    ):
        assert check(verifier, wrong, FRENCH).reason == "missing_fact", wrong


def test_unrelated_claims_are_refused(verifier: HeuristicVerifier) -> None:
    for claim in (
        "The moon is made of cheese.",
        "Every full-time employee gets 28 days of paid holiday per year.",
        "Remote workers must use the company laptop at home.",
    ):
        verdict = check(verifier, claim, REMOTE)
        assert (verdict.supported, verdict.reason) == (False, "unsupported"), claim


def test_the_quote_is_the_exact_passage_text_of_the_supporting_window(
    verifier: HeuristicVerifier,
) -> None:
    verdict = check(
        verifier, "Remote days are agreed with your manager one day in advance.", REMOTE
    )
    assert verdict.supported
    assert REMOTE[verdict.start : verdict.end] == verdict.quote
    assert verdict.quote == (
        "Remote days are agreed with your manager\nat least one day in advance."
    )


def test_a_claim_spanning_two_sentences_is_quoted_with_both(verifier: HeuristicVerifier) -> None:
    verdict = check(
        verifier,
        "Full-time employees get 28 days of paid holiday and up to five unused days carry over.",
        HOLIDAYS,
    )
    assert verdict.supported
    assert verdict.quote == HOLIDAYS
    assert (verdict.start, verdict.end) == (0, len(HOLIDAYS))


def test_the_passage_that_supports_the_claim_is_named(
    verifier: HeuristicVerifier, handbook_sections: list[str]
) -> None:
    answer = "Every full-time employee gets 28 days of paid holiday per year [2]."
    verdict = verifier.verify(split_claims(answer), handbook_sections)[0]
    assert verdict.supported
    assert (verdict.passage, verdict.supporting) == (3, (3,))
    section = handbook_sections[2]
    assert section[verdict.start : verdict.end].startswith("Every full-time employee gets 28")


def test_a_cited_passage_that_supports_the_claim_is_preferred(
    verifier: HeuristicVerifier,
) -> None:
    passages = [HOLIDAYS, "Remote work aside, " + HOLIDAYS]
    claim = Claim("Unused days, up to five, carry over to the next year", 0, 52, (2,))
    verdict = verifier.verify([claim], passages)[0]
    assert verdict.supporting == (1, 2)
    assert verdict.passage == 2


def test_no_passages_means_no_support(verifier: HeuristicVerifier) -> None:
    claim = Claim("Employees may work from home", 0, 28, (1,))
    assert verifier.verify([claim], []) == [
        ClaimVerdict(claim, False, 0.0, "unsupported", None, 0, 0, "")
    ]
    assert verifier.verify([], [REMOTE]) == []
