"""GET /v1/jobs/{id} in the embedded default: a crawl is also a job, with its status and counts;
missing jobs, and jobs of a knowledge base the key may not reach, are 404 job_not_found."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.crawl_site import FixtureSite, serve


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    fixture = FixtureSite()
    with serve(fixture):
        fixture.html("/", "<h1>Index</h1><p>Two pages follow.</p><a href='/a'>a</a>")
        fixture.html("/a", "<h1>A</h1><p>The first fact is seven.</p>")
        yield fixture


@pytest.fixture
def container(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Container]:
    settings = make_settings(tmp_path / "data")
    settings.crawl.allowed_hosts = ["127.0.0.1"]
    built = build_container(settings, embedder=embedder)
    yield built
    built.close()


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), headers=admin_headers(container)) as client:
        yield client


def _wait(api: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not end")


def test_a_crawl_is_followed_as_a_job(api: TestClient, site: FixtureSite) -> None:
    kb_id = api.post("/v1/kbs", json={"name": "jobs"}).json()["id"]
    started = api.post(f"/v1/kbs/{kb_id}/crawls", json={"start_urls": [site.base + "/"]})
    assert started.status_code == 202
    job = _wait(api, started.json()["id"])
    assert (job["kind"], job["kb_id"], job["status"]) == ("crawl", kb_id, "succeeded")
    assert job["counts"]["ingested"] == 2 and job["attempts"] == 1


def test_missing_and_unreachable_jobs_are_not_found(
    api: TestClient, container: Container, site: FixtureSite
) -> None:
    missing = api.get("/v1/jobs/job_missing")
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
    mine = api.post("/v1/kbs", json={"name": "mine"}).json()["id"]
    other = api.post("/v1/kbs", json={"name": "other"}).json()["id"]
    crawl = api.post(f"/v1/kbs/{other}/crawls", json={"start_urls": [site.base + "/"]}).json()
    restricted = container.keys.create(["kb:read"], [mine], name="one kb").secret
    hidden = api.get(f"/v1/jobs/{crawl['id']}", headers={"Authorization": f"Bearer {restricted}"})
    assert hidden.status_code == 404 and hidden.json()["code"] == "job_not_found"
    _wait(api, crawl["id"])


def test_an_upload_with_wait_false_answers_202_and_is_ingested_as_a_job(api: TestClient) -> None:
    kb_id = api.post("/v1/kbs", json={"name": "queued"}).json()["id"]
    text = b"Deliveries to the islands take three working days."
    queued = api.post(
        f"/v1/kbs/{kb_id}/documents",
        params={"wait": "false"},
        files={"file": ("islands.txt", text)},
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["kind"] == "ingest" and queued.json()["status"] in ("queued", "running")
    job = _wait(api, queued.json()["id"])
    assert job["status"] == "succeeded" and job["counts"]["outcome"] == "created"
    document = api.get(f"/v1/kbs/{kb_id}/documents/{job['counts']['document_id']}").json()
    assert document["source"] == "islands.txt"
    upload = {"file": ("islands.txt", text)}
    again = api.post(f"/v1/kbs/{kb_id}/documents", params={"wait": "false"}, files=upload)
    assert _wait(api, again.json()["id"])["counts"]["outcome"] == "unchanged"
    missing = api.post(
        "/v1/kbs/kb_missing/documents", params={"wait": "false"}, files={"file": ("a.txt", text)}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "kb_not_found"
