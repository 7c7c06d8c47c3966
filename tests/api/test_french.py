"""A French knowledge base end to end: upload, French question, cited French answer, and the
honest refusal in the question's language (the prompt asks for it too)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.i18n import refusal
from kb.settings import Settings
from tests.support.fakes.openai import FakeOpenAIServer

REGLEMENT = (
    "# Télétravail\n\n"
    "Les salariés peuvent télétravailler jusqu'à trois jours par semaine. Les jours de "
    "télétravail sont convenus avec le responsable au moins un jour à l'avance.\n\n"
    "# Congés\n\n"
    "Chaque salarié à temps plein bénéficie de 28 jours de congés payés par an. Les jours non "
    "pris, dans la limite de cinq, sont reportés sur l'année suivante.\n"
)


@pytest.fixture
def settings(stand_in_settings: Settings) -> Settings:
    """Default settings, the openai-compatible model on the provider stand-in."""
    return stand_in_settings


@pytest.fixture
def kb_id(client: TestClient) -> str:
    kb: str = client.post("/v1/kbs", json={"name": "reglement"}).json()["id"]
    added = client.post(
        f"/v1/kbs/{kb}/documents",
        files={"file": ("reglement.md", REGLEMENT.encode(), "text/markdown")},
    )
    assert added.status_code == 201, added.text
    return kb


def test_a_french_question_gets_a_cited_french_answer(client: TestClient, kb_id: str) -> None:
    answer = client.post(
        f"/v1/kbs/{kb_id}/query",
        json={"question": "Combien de jours de congés payés par an ai-je ?", "model": "extractive"},
    ).json()
    assert answer["grounded"] is True, answer
    assert "28 jours de congés payés" in answer["answer"]
    [citation] = answer["citations"]
    assert "28 jours" in citation["quote"]
    assert REGLEMENT[citation["start"] : citation["end"]] == citation["quote"]


def test_the_refusal_comes_in_the_questions_language(client: TestClient, kb_id: str) -> None:
    asked = {
        "fr": "Quelle est la politique concernant les chiens au bureau ?",
        "en": "What is the policy about dogs in the office?",
        "de": "Welche Regeln gelten für Hunde im Büro?",
    }
    for language, question in asked.items():
        answer = client.post(
            f"/v1/kbs/{kb_id}/query", json={"question": question, "model": "extractive"}
        ).json()
        assert answer["grounded"] is False
        assert answer["answer"] == refusal(language), (language, answer["answer"])


def test_the_prompt_asks_for_the_questions_language_and_its_refusal(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = refusal("fr")
    answer = client.post(
        f"/v1/kbs/{kb_id}/query",
        json={"question": "Puis-je venir au bureau avec mon chien ?", "model": "openai-compatible"},
    ).json()
    assert answer["answer"] == refusal("fr") and answer["grounded"] is False
    prompt = provider.requests[-1].body["messages"][-1]["content"]
    assert "Answer in French." in prompt and refusal("fr") in prompt
