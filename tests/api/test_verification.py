"""Answers checked claim by claim, end to end: a provider stand-in (the OpenAI wire protocol,
driven by the real client) returns fabricated answers; the engine drops, flags or corrects them,
and quotes locate the supporting sentence in the document's text."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from engine.llms.base import NOT_FOUND_ANSWER
from kb.settings import Settings
from tests.support.fakes.openai import FakeOpenAIServer
from tests.support.sse_client import read_events

HANDBOOK = (
    "# Remote work\n\n"
    "Employees may work from home up to three days per week. Remote days are agreed with "
    "your manager at least one day in advance.\n\n"
    "# Holidays\n\n"
    "Every full-time employee gets 28 days of paid holiday per year, plus public holidays. "
    "Unused days, up to five, carry over to the next year.\n"
)
REMOTE_QUESTION = "How many days per week may employees work from home?"
PARKING = "# Parking\n\nStaff parking is on level minus two of the garage, next to the lifts.\n"


@pytest.fixture
def settings(stand_in_settings: Settings) -> Settings:
    """Default settings, the openai-compatible model on the provider stand-in."""
    return stand_in_settings


@pytest.fixture
def kb_id(client: TestClient) -> str:
    kb: str = client.post("/v1/kbs", json={"name": "handbook"}).json()["id"]
    for title, text in (("Handbook", HANDBOOK), ("Parking", PARKING)):
        added = client.post(f"/v1/kbs/{kb}/documents", json={"title": title, "text": text})
        assert added.status_code in (200, 201), added.text
    return kb


def _ask(client: TestClient, kb_id: str, question: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"/v1/kbs/{kb_id}/query",
        json={"question": question, "model": "openai-compatible", **body},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_changed_number_is_dropped_and_the_answer_becomes_the_honest_refusal(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    """The issue's example: "The answer is: 2" for a three-day rule came back grounded."""
    provider.reply = "You can work from home up to two days per week [1]."
    answer = _ask(client, kb_id, "How many days can I work from home?")
    assert answer["answer"] == NOT_FOUND_ANSWER
    assert answer["grounded"] is False and answer["citations"] == []
    assert answer["dropped"] == 1
    [claim] = answer["claims"]
    assert claim["supported"] is False and "two days" in claim["text"]


def test_an_invented_rule_is_dropped(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    """The issue's example: "No, you cannot bring your dog to work." came back grounded."""
    provider.reply = "No, you cannot bring your dog to work [1]."
    answer = _ask(client, kb_id, "Can I bring my dog to work?")
    assert answer["answer"] == NOT_FOUND_ANSWER and answer["grounded"] is False


def test_only_the_unsupported_sentence_is_dropped_and_the_rest_is_quoted(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = (
        "Employees may work from home up to three days per week [1]. "
        "Remote days need written approval from the CEO [1]."
    )
    answer = _ask(client, kb_id, "How many days per week may employees work from home?")
    assert answer["answer"] == "Employees may work from home up to three days per week [1]."
    assert answer["grounded"] is True and answer["dropped"] == 1
    assert [c["supported"] for c in answer["claims"]] == [True, False]
    [citation] = answer["citations"]
    assert citation["quote"] == "Employees may work from home up to three days per week."
    # The offsets slice the document's text exactly.
    assert HANDBOOK[citation["start"] : citation["end"]] == citation["quote"]


def test_flag_keeps_unsupported_claims_marked_and_the_answer_ungrounded(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = (
        "Employees get 28 days of paid holiday per year [1]. Unused days expire in March [1]."
    )
    answer = _ask(client, kb_id, "How much holiday do I get?", verification="flag")
    assert answer["answer"] == provider.reply
    assert answer["verification"] == "flag" and answer["dropped"] == 0
    assert answer["grounded"] is False
    assert [c["supported"] for c in answer["claims"]] == [True, False]


def test_off_returns_the_model_text_unchecked(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = "You can work from home up to two days per week [1]."
    answer = _ask(client, kb_id, "How many days can I work from home?", verification="off")
    assert answer["answer"] == provider.reply and answer["grounded"] is True
    assert answer["claims"] == [] and answer["verification"] == "off"


def test_a_claim_citing_the_wrong_passage_gets_its_marker_corrected(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    # Two passages come back; whichever the parking one is, the claim cites the other.
    question = "Where is staff parking, and how many days of paid holiday do employees get?"
    found = client.post(f"/v1/kbs/{kb_id}/search", json={"query": question, "top_k": 2})
    titles = [r["title"] for r in found.json()["results"]]
    assert sorted(titles) == ["Handbook", "Parking"], titles
    parking = titles.index("Parking") + 1
    wrong = 3 - parking
    holiday = "Every full-time employee gets 28 days of paid holiday per year"
    provider.reply = (
        f"Staff parking is on level minus two of the garage [{wrong}]. {holiday} [{wrong}]."
    )
    answer = _ask(client, kb_id, question, top_k=2)
    assert answer["answer"] == (
        f"Staff parking is on level minus two of the garage [{parking}]. {holiday} [{wrong}]."
    )
    assert sorted(c["number"] for c in answer["citations"]) == [1, 2]
    assert answer["claims"][0]["citations"] == [parking] and answer["grounded"] is True


def test_the_knowledge_base_policy_applies_unless_the_request_chooses(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    patched = client.patch(f"/v1/kbs/{kb_id}", json={"verification": "flag"})
    assert patched.status_code == 200 and patched.json()["verification"] == "flag"
    provider.reply = "You can work from home up to two days per week [1]."
    flagged = _ask(client, kb_id, "How many days can I work from home?")
    assert flagged["verification"] == "flag" and flagged["answer"] == provider.reply
    dropped = _ask(client, kb_id, "How many days can I work from home?", verification="drop")
    assert dropped["answer"] == NOT_FOUND_ANSWER
    assert client.patch(f"/v1/kbs/{kb_id}", json={"verification": "loose"}).status_code == 422
    created = client.post("/v1/kbs", json={"name": "flagged", "verification": "flag"})
    assert created.status_code == 201 and created.json()["verification"] == "flag"


def test_the_stream_ends_with_a_verdict_that_replaces_dropped_text(
    client: TestClient, kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = (
        "Employees may work from home up to three days per week [1]. "
        "Remote days need written approval from the CEO [1]."
    )
    with client.stream(
        "POST",
        f"/v1/kbs/{kb_id}/query",
        json={"question": REMOTE_QUESTION, "model": "openai-compatible", "stream": True},
    ) as response:
        events = list(read_events(response))
    names = [e.name for e in events]
    assert names[-3:] == ["verdict", "citations", "done"]
    streamed = "".join(e.data["text"] for e in events if e.name == "delta")
    assert "CEO" in streamed  # text streams as generated ...
    verdict = events[-3].data
    assert verdict["replaced"] is True and "CEO" not in verdict["answer"]  # ... then is checked
    assert verdict["answer"] == events[-1].data["answer"]
    assert [c["supported"] for c in verdict["claims"]] == [True, False]
    assert events[-2].data["citations"][0]["quote"].startswith("Employees may work")


def test_the_openai_endpoint_carries_claims_in_its_extension_fields(
    live_server: str, auth_headers: dict[str, str], kb_id: str, provider: FakeOpenAIServer
) -> None:
    provider.reply = (
        "Employees may work from home up to three days per week [1]. "
        "Remote days need written approval from the CEO [1]."
    )
    key = auth_headers["Authorization"].removeprefix("Bearer ")
    sdk = openai.OpenAI(base_url=f"{live_server}/v1", api_key=key, max_retries=0)
    body = {"answer_model": "openai-compatible"}
    completion = sdk.chat.completions.create(
        model=kb_id, messages=[{"role": "user", "content": REMOTE_QUESTION}], extra_body=body
    )
    extra = completion.model_extra or {}
    assert "CEO" not in (completion.choices[0].message.content or "")
    assert [c["supported"] for c in extra["claims"]] == [True, False]
    assert extra["dropped"] == 1 and extra["grounded"] is True
    assert extra["citations"][0]["quote"].startswith("Employees may work")
    chunks = list(
        sdk.chat.completions.create(
            model=kb_id,
            messages=[{"role": "user", "content": REMOTE_QUESTION}],
            extra_body=body,
            stream=True,
        )
    )
    last = next(c for c in reversed(chunks) if c.choices and c.choices[0].finish_reason)
    final = last.model_extra or {}
    assert final["replaced"] is True and "CEO" not in final["answer"]
    assert [c["supported"] for c in final["claims"]] == [True, False]
    sdk.close()
