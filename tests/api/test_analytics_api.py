"""The analytics and export endpoints over real conversations: figures of what was said, the
unanswered questions listed, exports that round-trip (JSON) and cannot inject formulas (CSV),
and keys reaching only their own knowledge bases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.container import Container

ANSWERED = "How much does the starter plan cost?"
UNANSWERED = "Do you sell gift cards for birthdays?"
HOSTILE = '=HYPERLINK("https://evil.example","click"), with "quotes",\nand a new line'


@pytest.fixture
def kb(client: TestClient) -> dict[str, Any]:
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    docs = [
        client.post(
            f"/v1/kbs/{kb_id}/documents",
            json={"title": title, "text": text},
        ).json()["document"]
        for title, text in (
            ("Prices", "The starter plan costs 9 EUR a month."),
            ("Careers", "We hire engineers in Lyon and in Montreal."),
        )
    ]
    turns = []
    for user, text in (("a", ANSWERED), ("b", ANSWERED), ("b", UNANSWERED), ("c", HOSTILE)):
        reply = client.post(
            "/v1/messages/send", json={"kb_id": kb_id, "user_id": user, "text": text}
        )
        assert reply.status_code == 200, reply.text
        turns.append(reply.json())
    client.post(f"/v1/messages/{turns[0]['message']['id']}/feedback", json={"rating": "up"})
    client.post(f"/v1/messages/{turns[2]['message']['id']}/feedback", json={"rating": "down"})
    client.post(
        f"/v1/conversations/{turns[1]['conversation_id']}/lead",
        json={"name": "Ada", "email": "ada@example.com"},
    )
    return {"id": kb_id, "docs": docs, "turns": turns}


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }


def test_the_report_counts_what_was_said(client: TestClient, kb: dict[str, Any]) -> None:
    response = client.get(f"/v1/kbs/{kb['id']}/analytics", params=_window())
    assert response.status_code == 200, response.text
    report = response.json()
    totals = report["totals"]
    grounded = [t["grounded"] for t in kb["turns"]]
    assert totals["conversations"] == 4 and totals["messages"] == 8 and totals["visitors"] == 3
    assert totals["answered"] == grounded.count(True)
    assert totals["not_found"] == grounded.count(False) and grounded[2] is False
    assert totals["leads"] == 1 and totals["handoffs"] == 0
    assert report["feedback"] == {"up": 1, "down": 1, "score": 0.5}
    assert report["latency"]["count"] == 4 and report["latency"]["p50_ms"] is not None
    prices, careers = kb["docs"]
    assert [d["document_id"] for d in report["most_cited_documents"]] == [prices["id"]]
    assert report["most_cited_documents"][0]["citations"] == 2
    assert [d["document_id"] for d in report["never_cited_documents"]] == [careers["id"]]
    top = report["top_questions"][0]
    assert (top["question"], top["count"]) == (ANSWERED, 2)
    unanswered = [t["question"] for t in report["top_unanswered_questions"]]
    assert UNANSWERED in unanswered and ANSWERED not in unanswered
    assert sum(b["counts"]["messages"] for b in report["series"]) == 8
    assert report["from"] and report["to"] and report["granularity"] == "day"


def test_bad_periods_and_granularities_are_refused(client: TestClient, kb: dict[str, Any]) -> None:
    window = _window()
    backwards = {"from": window["to"], "to": window["from"]}
    response = client.get(f"/v1/kbs/{kb['id']}/analytics", params=backwards)
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"
    hourly = client.get(f"/v1/kbs/{kb['id']}/analytics", params={"granularity": "hour"})
    assert hourly.status_code == 422
    assert client.get("/v1/kbs/kb_missing/analytics").status_code == 404
    default = client.get(f"/v1/kbs/{kb['id']}/analytics")  # the last 30 days
    assert default.status_code == 200 and default.json()["totals"]["messages"] == 8


def test_the_json_export_round_trips(client: TestClient, kb: dict[str, Any]) -> None:
    response = client.get(
        f"/v1/kbs/{kb['id']}/conversations/export", params={**_window(), "format": "json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    exported = response.json()["conversations"]
    assert [c["id"] for c in exported] == [t["conversation_id"] for t in kb["turns"]]
    for conversation in exported:
        history = client.get(f"/v1/conversations/{conversation['id']}/history").json()["items"]
        assert [
            (m["id"], m["role"], m["text"], m["grounded"]) for m in conversation["messages"]
        ] == [(m["id"], m["role"], m["text"], m["grounded"]) for m in history]
        for message, stored in zip(conversation["messages"], history, strict=True):
            assert message["feedback"] == (
                None
                if stored["feedback"] is None
                else {
                    "rating": stored["feedback"]["rating"],
                    "comment": stored["feedback"]["comment"],
                    "created_at": message["feedback"]["created_at"],
                }
            )
            assert message["cited_documents"] == list(
                dict.fromkeys(c["document_id"] for c in stored["citations"])
            )


def test_the_csv_export_escapes_and_defuses_formulas(
    client: TestClient, kb: dict[str, Any]
) -> None:
    response = client.get(
        f"/v1/kbs/{kb['id']}/conversations/export", params={**_window(), "format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 8
    hostile = next(r for r in rows if r["role"] == "user" and "HYPERLINK" in r["text"])
    assert hostile["text"] == "'" + HOSTILE  # quoted, commas and the newline kept
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
    rated = {r["message_id"]: r["feedback"] for r in rows if r["feedback"]}
    assert rated == {
        kb["turns"][0]["message"]["id"]: "up",
        kb["turns"][2]["message"]["id"]: "down",
    }


def test_keys_reach_their_own_knowledge_bases_only(
    client: TestClient, container: Container, kb: dict[str, Any]
) -> None:
    other = client.post("/v1/kbs", json={"name": "other"}).json()["id"]
    restricted = {"Authorization": "Bearer " + container.keys.create(["kb:read"], [other]).secret}
    reader = {"Authorization": "Bearer " + container.keys.create(["kb:read"], [kb["id"]]).secret}
    chat = {"Authorization": "Bearer " + container.keys.create(["chat"]).secret}
    for path in ("analytics", "conversations/export"):
        url = f"/v1/kbs/{kb['id']}/{path}"
        assert client.get(url, headers=restricted).status_code == 403, path
        assert client.get(url, headers=chat).status_code == 403, path
        assert client.get(url, headers=reader).status_code == 200, path
