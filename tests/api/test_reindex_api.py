"""Knowledge bases' embedding models over HTTP: chosen at creation, changed by a re-index job."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from kb.embeddings.catalog import E5_SMALL, MINILM


def test_create_with_a_model_and_reindex_over_the_api(client: TestClient) -> None:
    made = client.post("/v1/kbs", json={"name": "fr", "embedding_model": E5_SMALL})
    assert made.status_code == 201, made.text
    assert made.json()["embedding_model"] == E5_SMALL
    assert made.json()["embedding_fingerprint"].startswith("multilingual-e5-small:")
    kb_id = made.json()["id"]
    text = {"text": "Le musée ouvre à neuf heures.", "title": "Horaires"}
    assert client.post(f"/v1/kbs/{kb_id}/documents", json=text).status_code in (200, 201)

    started = client.post(f"/v1/kbs/{kb_id}/reindex", json={"embedding_model": MINILM})
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while (job := client.get(f"/v1/kbs/{kb_id}/reindex/{job_id}").json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (job["status"], job["done"], job["total"]) == ("done", 1, 1)
    assert client.get(f"/v1/kbs/{kb_id}").json()["embedding_model"] == MINILM
    assert [j["id"] for j in client.get(f"/v1/kbs/{kb_id}/reindex").json()["items"]] == [job_id]


def test_unknown_models_and_jobs_get_the_error_shape(client: TestClient) -> None:
    refused = client.post("/v1/kbs", json={"name": "x", "embedding_model": "bundled:nope"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_input"
    kb_id = client.post("/v1/kbs", json={"name": "y"}).json()["id"]
    missing = client.get(f"/v1/kbs/{kb_id}/reindex/rix_0")
    assert missing.status_code == 404 and missing.json()["code"] == "reindex_job_not_found"
