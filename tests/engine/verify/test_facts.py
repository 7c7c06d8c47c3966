"""Hard facts normalised so one fact written two ways compares equal, and two facts do not."""

from __future__ import annotations

import pytest

from engine.verify.facts import Fact, extract_facts, fact_keys


def held(claim: str, passage: str) -> list[bool]:
    """For each hard fact of ``claim``, whether ``passage`` states it."""
    keys = fact_keys(passage)
    return [_has(fact, keys) for fact in extract_facts(claim) if fact.kind != "name"]


def _has(fact: Fact, keys: frozenset[tuple[object, ...]]) -> bool:
    return any(all(key in keys for key in option) for option in fact.options)


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        ("three days", "3 days"),
        ("3 jours", "three days"),
        ("twenty-one employees", "21 employees"),
        ("vingt et un ans", "21 years"),
        ("quatre-vingt-dix jours", "90 days"),
        ("soixante-dix-sept euros", "77 €"),
        ("deux mille vingt-six", "2026"),
        ("one hundred and five km", "105 kilometres"),
        ("2.5%", "2,5 %"),
        ("2,5 pour cent", "2.5 percent"),
        ("cinq virgule cinq pour cent", "5,5 %"),
        ("two point five km", "2.5 km"),
        ("€1,500", "1 500 euros"),
        ("1 000 000 de dollars", "USD 1,000,000"),
        ("1,5 million d'euros", "EUR 1.5 million"),
        ("two weeks", "14 days"),
        ("48 hours", "2 days"),
        ("5 GB", "5 Go"),
        ("12 March 2026", "2026-03-12"),
        ("12 mars 2026", "12/03/2026"),
        ("le 1er mars", "March 1st"),
        ("March 12", "12 March 2026"),
        ("8 am", "08:00"),
        ("6 pm", "18h00"),
        ("Monday", "lundi"),
        ("version 3.10.2", "3.10.2 released"),
    ],
)
def test_the_same_fact_written_two_ways_matches(claim: str, passage: str) -> None:
    assert held(claim, passage) and all(held(claim, passage)), (claim, passage)


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        ("4 days", "3 days"),
        ("three weeks", "3 days"),
        ("2.6%", "2,5 %"),
        ("€1,500", "$1,500"),
        ("12 April 2026", "2026-03-12"),
        ("12 March 2025", "12 March 2026"),
        ("9 am", "8 am"),
        ("Tuesday", "Monday"),
        ("version 3.10.3", "version 3.10.2"),
        ("quatre-vingts jours", "90 days"),
    ],
)
def test_a_different_fact_does_not_match(claim: str, passage: str) -> None:
    assert held(claim, passage) == [False], (claim, passage)


def test_ambiguous_numeric_dates_match_either_reading() -> None:
    """03/12/2026 is 3 December in Europe and 12 March in the US."""
    assert held("03/12/2026", "12 March 2026") == [True]
    assert held("03/12/2026", "3 December 2026") == [True]
    assert held("03/12/2026", "5 December 2026") == [False]


def test_articles_and_lone_number_words_are_not_numbers() -> None:
    """ "un"/"une"/"one" count only before a unit; "neuf" may be "new"."""
    facts = extract_facts("Un employé peut demander une semaine de congé.", names=False)
    assert [(f.kind, f.text) for f in facts] == [("quantity", "une…semaine")]
    assert [f.kind for f in extract_facts("One of the employees has a new laptop.")] == []
    assert [f.kind for f in extract_facts("Un ordinateur neuf est fourni.")] == []


def test_proper_names_are_capitalised_words_inside_the_sentence() -> None:
    facts = extract_facts("The German physicist Daniel Gabriel Fahrenheit worked in Amsterdam.")
    assert [f.text for f in facts if f.kind == "name"] == [
        "German",
        "Daniel",
        "Gabriel",
        "Fahrenheit",
        "Amsterdam",
    ]
    assert [f.text for f in extract_facts("Employees may work from home.")] == []
    assert [f.text for f in extract_facts("NASA was founded in 1958.") if f.kind == "name"] == [
        "NASA"
    ]
