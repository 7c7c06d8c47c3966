"""Recognising a visitor's request for a person, in French and English, whatever the accents
and case; questions that merely mention advisers, agents or people are left to the bot."""

from __future__ import annotations

import pytest

from engine.handoff.intent import asks_for_a_person, fold

ASKS = [
    "Je veux parler à un humain",
    "je veux parler a un humain",
    "JE VEUX PARLER À UN CONSEILLER",
    "Je voudrais parler à un conseiller s'il vous plaît",
    "Puis-je parler à quelqu’un ?",
    "Est-ce que je peux discuter avec une vraie personne ?",
    "Mettez-moi en relation avec un conseiller",
    "Passez-moi un agent svp",
    "Je souhaite un interlocuteur humain",
    "Comment joindre un conseiller ?",
    "un humain svp",
    "Conseiller !",
    "Talk to a person",
    "I want to talk to a human",
    "Can I speak with an agent please?",
    "connect me to a real person",
    "Could you transfer me to customer service?",
    "I need a human",
    "human please",
    "AGENT!!",
    "Is there a live agent?",
    "get me a human",
]
LEAVES = [
    "What is a user agent?",
    "Les conseillers sont-ils disponibles le samedi ?",
    "Can a person return an item after 30 days?",
    "How do I talk to my manager about leave?",
    "Comment devenir agent immobilier ?",
    "Comment contacter un agent immobilier ?",
    "I need a person to sign the delivery form",
    "Qu'est-ce qu'un agent conversationnel ?",
    "How many human resources staff are there?",
    "Is the agent module documented?",
    "La personne qui a commandé peut-elle annuler ?",
    "When does the shop open?",
    "",
    "talk to a person " + "about the weather " * 30,
]


@pytest.mark.parametrize("text", ASKS)
def test_requests_for_a_person_are_recognised(text: str) -> None:
    assert asks_for_a_person(text), text


@pytest.mark.parametrize("text", LEAVES)
def test_questions_mentioning_people_are_left_to_the_bot(text: str) -> None:
    assert not asks_for_a_person(text), text


def test_folding_removes_accents_case_and_apostrophe_styles() -> None:
    assert fold("  Quelqu’un  À l'ÉCOUTE ") == "quelqu un a l ecoute"
