"""Prometheus metrics at /metrics: the ``metrics`` scope (or public when configured), requests by
route template, what is stored, 429s, and process metrics; one registry per app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.container import Container, build_container
from ingest.sources import RawSource
from kb.db.crawls import CrawlRepository
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import make_settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _requests(samples: Samples, method: str, route: str, status: str) -> float:
    labels = frozenset({"method": method, "route": route, "status": status}.items())
    return samples.get(("kb_http_requests_total", labels), 0)


def test_metrics_need_a_key_with_the_metrics_scope(container: Container) -> None:
    scraper = container.keys.create(["metrics"]).secret
    chat = container.keys.create(["chat", "kb:read", "kb:write"]).secret
    admin = container.keys.create(["admin"]).secret
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
        refused = client.get("/metrics", headers={"Authorization": f"Bearer {chat}"})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert _scrape(client, Authorization=f"Bearer {scraper}")
        assert _scrape(client, Authorization=f"Bearer {admin}")
        # A metrics key is for scraping only.
        assert client.get("/v1/kbs", headers={"X-API-Key": scraper}).status_code == 403


def test_metrics_can_be_made_public(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    settings = make_settings(tmp_path / "data", security__metrics_public=True)
    container = build_container(settings, embedder=embedder)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        assert "kb_http_requests_in_flight" in _scrape(client).__repr__()
        assert client.get("/v1/kbs").status_code == 401  # only /metrics is opened
        openmetrics = client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.rstrip().endswith("# EOF")


def test_requests_are_counted_by_route_template(client: TestClient) -> None:
    kb_id = client.post("/v1/kbs", json={"name": "handbook"}).json()["id"]
    for _ in range(2):
        assert client.get(f"/v1/kbs/{kb_id}").status_code == 200
    for ref in ("nope-1", "nope-2"):
        assert client.get(f"/v1/kbs/{ref}").status_code == 404
        assert client.get(f"/v1/unknown/{ref}").status_code == 404
    assert client.request("BREW", "/v1/kbs").status_code == 405
    samples = _scrape(client)
    assert _requests(samples, "GET", "/v1/kbs/{kb_id}", "200") == 2
    assert _requests(samples, "GET", "/v1/kbs/{kb_id}", "404") == 2
    assert _requests(samples, "POST", "/v1/kbs", "201") == 1
    assert _requests(samples, "GET", "unmatched", "404") == 2
    assert _requests(samples, "other", "/v1/kbs", "405") == 1
    # Label values stay bounded: no raw ids, no unknown paths, no made-up methods.
    labels = " ".join(str(key) for key in samples)
    assert kb_id not in labels and "nope" not in labels and "BREW" not in labels
    count = frozenset({"method": "GET", "route": "/v1/kbs/{kb_id}"}.items())
    assert samples[("kb_http_request_duration_seconds_count", count)] == 4
    assert samples[("kb_http_requests_in_flight", frozenset())] == 1  # this scrape
    assert samples[("process_cpu_seconds_total", frozenset())] > 0


def test_stored_contents_and_crawl_jobs_are_read_at_scrape_time(
    client: TestClient, container: Container
) -> None:
    kb = container.catalog.create_kb("handbook")
    text = b"Staff park in the north lot. Visitors park at the front. " * 20
    container.ingestion.ingest(kb.id, RawSource(text, source="parking.txt", filename="parking.txt"))
    CrawlRepository(container.registry.engine).create_job(kb.id, {})
    samples = _scrape(client)
    chunks = container.catalog.get_kb(kb.id).chunk_count
    assert samples[("kb_knowledge_bases", frozenset())] == 1
    assert samples[("kb_documents", frozenset())] == 1
    assert chunks >= 1 and samples[("kb_chunks", frozenset())] == chunks
    assert samples[("kb_crawl_jobs", frozenset({("status", "queued")}))] == 1
    container.catalog.delete_kb(kb.id)
    after = _scrape(client)
    assert after[("kb_documents", frozenset())] == 0
    assert ("kb_crawl_jobs", frozenset({("status", "queued")})) not in after


def test_rate_limited_answers_are_counted(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    container = build_container(make_settings(tmp_path / "data"), embedder=embedder)
    container.settings.security.rate_limit = "3/minute"
    admin = {"Authorization": f"Bearer {container.keys.create(['admin']).secret}"}
    with TestClient(create_app(container), raise_server_exceptions=False, headers=admin) as client:
        statuses = [client.get("/v1/kbs").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        container.settings.security.metrics_public = True  # a public scrape is not limited
        samples = _scrape(client)
    assert _requests(samples, "GET", "/v1/kbs", "429") == 1


def test_each_app_has_its_own_registry(container: Container) -> None:
    """Regression guard: a second app in one process must not clash on metric names."""
    container.settings.security.metrics_public = True
    with (
        TestClient(create_app(container)) as first,
        TestClient(create_app(container)) as second,
    ):
        first.get("/healthz")
        assert _requests(_scrape(first), "GET", "/healthz", "200") == 1
        assert _requests(_scrape(second), "GET", "/healthz", "200") == 0
