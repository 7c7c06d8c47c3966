"""Any replica serves any request: what one stored, the other finds; a conversation started on
one goes on at the other with its history; the rate limit holds over both together."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.distributed.conftest import PUBLISHABLE_LIMIT, Topology

SITE = "https://shop.example.com"


def _kb(topology: Topology, name: str) -> str:
    created = httpx.post(
        topology.api_a.url + "/v1/kbs", json={"name": name}, headers=topology.admin, timeout=30
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_document_uploaded_through_one_replica_is_found_through_the_other(
    topology: Topology,
) -> None:
    kb_id = _kb(topology, "replicas")
    text = b"The warehouse in Tromso ships orders on Tuesdays and Fridays only."
    upload = httpx.post(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/documents",
        files={"file": ("shipping.txt", text)},
        headers=topology.admin,
        timeout=60,
    )
    assert upload.status_code in (200, 201), upload.text
    found = httpx.post(
        f"{topology.api_b.url}/v1/kbs/{kb_id}/search",
        json={"query": "Which days does the Tromso warehouse ship?", "top_k": 3},
        headers=topology.admin,
        timeout=60,
    )
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert results and results[0]["source"] == "shipping.txt"
    assert "Tuesdays" in results[0]["text"]


def test_an_upload_queued_through_one_replica_is_ingested_by_a_worker(
    topology: Topology,
) -> None:
    kb_id = _kb(topology, "queued-uploads")
    queued = httpx.post(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/documents",
        params={"wait": "false"},
        files={"file": ("ferry.txt", b"The ferry to the island leaves at seven every morning.")},
        headers=topology.admin,
        timeout=60,
    )
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    deadline = time.monotonic() + 60
    while (job := _get(topology.api_b.url + f"/v1/jobs/{job_id}", topology))["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "succeeded" and job["counts"]["outcome"] == "created", job
    workers = {f":{w.pid}" for w in topology.workers}
    assert any(job["holder"].endswith(pid) for pid in workers), job
    found = httpx.post(
        f"{topology.api_b.url}/v1/kbs/{kb_id}/search",
        json={"query": "When does the ferry leave?", "top_k": 1},
        headers=topology.admin,
        timeout=60,
    ).json()["results"]
    assert found and found[0]["source"] == "ferry.txt"


def _get(url: str, topology: Topology) -> dict[str, Any]:
    answer = httpx.get(url, headers=topology.admin, timeout=30)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_conversation_started_on_one_replica_continues_on_the_other(
    topology: Topology,
) -> None:
    kb_id = _kb(topology, "chat-replicas")
    httpx.post(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/documents",
        files={"file": ("returns.txt", b"Returns are accepted within 30 days of delivery.")},
        headers=topology.admin,
        timeout=60,
    ).raise_for_status()
    first = httpx.post(
        topology.api_a.url + "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": "visitor-1", "text": "How long do I have to return?"},
        headers=topology.admin,
        timeout=120,
    )
    assert first.status_code == 200, first.text
    conversation = first.json()["conversation_id"]
    second = httpx.post(
        topology.api_b.url + "/v1/messages/send",
        json={
            "kb_id": kb_id,
            "user_id": "visitor-1",
            "conversation_id": conversation,
            "text": "And from when?",
        },
        headers=topology.admin,
        timeout=120,
    )
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == conversation
    history = httpx.get(
        f"{topology.api_b.url}/v1/conversations/{conversation}/history",
        headers=topology.admin,
        timeout=30,
    )
    assert history.status_code == 200, history.text
    texts = [m["text"] for m in history.json()["items"] if m["role"] == "user"]
    assert texts == ["How long do I have to return?", "And from when?"]


def test_the_rate_limit_holds_over_both_replicas_together(topology: Topology) -> None:
    kb_id = _kb(topology, "limits")
    key = httpx.post(
        topology.api_a.url + "/v1/keys",
        json={"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [SITE], "name": "site"},
        headers=topology.admin,
        timeout=30,
    )
    assert key.status_code == 201, key.text
    headers = {"Authorization": f"Bearer {key.json()['secret']}", "Origin": SITE}
    statuses = []
    for i in range(PUBLISHABLE_LIMIT + 6):
        replica = topology.api_a if i % 2 == 0 else topology.api_b
        answer = httpx.get(replica.url + "/v1/widget/config", headers=headers, timeout=30)
        statuses.append(answer.status_code)
    assert statuses.count(200) == PUBLISHABLE_LIMIT, statuses
    assert statuses[PUBLISHABLE_LIMIT:] == [429] * 6, statuses


def test_an_oauth_token_issued_by_one_replica_is_accepted_by_the_other(
    topology: Topology,
) -> None:
    """Every process signs with the shared KB_SECURITY__TOKEN_SIGNING_KEY."""
    created = httpx.post(
        topology.api_a.url + "/v1/oauth/clients",
        json={"name": "crm", "scopes": ["kb:read"]},
        headers=topology.admin,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    client = created.json()
    issued = httpx.post(
        topology.api_a.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    listed = httpx.get(
        topology.api_b.url + "/v1/kbs", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert listed.status_code == 200, listed.text
