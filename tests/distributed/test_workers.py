"""Jobs survive their worker: a crawl goes on while the worker running it is killed with
SIGKILL and completes on the other, every page ingested exactly once; and every event reaches a
webhook receiver, de-duplicated to exactly one by its delivery id."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.distributed.conftest import Topology
from tests.support.crawl_site import FixtureSite, serve
from tests.support.webhook_receiver import Receiver, serve_receiver

PAGES = 30


@pytest.fixture(scope="module")
def receiver(topology: Topology) -> Iterator[Receiver]:
    """A loopback receiver subscribed to every event before this module's tests run."""
    with serve_receiver() as found:
        created = httpx.post(
            topology.api_a.url + "/v1/webhooks",
            json={"url": found.url, "events": ["*"]},
            headers=topology.admin,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        yield found


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    """A slow-enough site: an index linking to PAGES pages of their own text."""
    fixture = FixtureSite()
    links = "".join(f"<li><a href='/p{i}'>Page {i}</a></li>" for i in range(PAGES))
    fixture.html("/", f"<h1>Handbook index</h1><ul>{links}</ul>", title="Index")
    for i in range(PAGES):
        body = (
            f"<h1>Chapter {i}</h1><p>Chapter {i} of the handbook explains procedure number {i} "
            f"for the warehouse team, step by step, with its checklist {i * 7}.</p>"
        )
        fixture.html(f"/p{i}", body, title=f"Chapter {i}")
    with serve(fixture) as served:
        yield served


def _job(topology: Topology, job_id: str, api: str | None = None) -> dict[str, Any]:
    answer = httpx.get(
        f"{api or topology.api_b.url}/v1/jobs/{job_id}", headers=topology.admin, timeout=30
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _show(moment: str, job: dict[str, Any]) -> None:
    counts = {k: job["counts"].get(k) for k in ("fetched", "ingested", "unchanged", "failed")}
    print(
        f"[kill test] {moment}: status={job['status']} attempts={job['attempts']} "
        f"holder={job['holder']} counts={counts}"
    )


def test_a_crawl_survives_its_worker_killed_mid_crawl(
    topology: Topology, site: FixtureSite, receiver: Receiver
) -> None:
    kb_id = httpx.post(
        topology.api_a.url + "/v1/kbs", json={"name": "crawled"}, headers=topology.admin
    ).json()["id"]
    started = httpx.post(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/crawls",
        json={"start_urls": [site.base + "/"], "delay_s": 0.5, "concurrency": 1},
        headers=topology.admin,
        timeout=30,
    )
    assert started.status_code == 202, started.text
    crawl_id = started.json()["id"]
    deadline = time.monotonic() + 60
    job = _job(topology, crawl_id)
    while job["status"] != "running" or (job["counts"].get("ingested") or 0) < 4:
        assert time.monotonic() < deadline, job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.2)
        job = _job(topology, crawl_id)
    holder_pid = int(job["holder"].rsplit(":", 1)[1])
    [victim] = [w for w in topology.workers if w.pid == holder_pid]
    _show(f"before SIGKILL of {victim.name} (pid {victim.pid})", job)
    victim.kill()
    killed_at = time.monotonic()
    deadline = killed_at + 120
    while job["status"] != "succeeded":
        assert time.monotonic() < deadline, job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.5)
        job = _job(topology, crawl_id, api=topology.api_a.url)
    _show(f"after, {time.monotonic() - killed_at:.1f} s after the kill", job)
    survivor = next(w for w in topology.workers if w is not victim)
    assert job["attempts"] == 2 and job["holder"].endswith(f":{survivor.pid}")
    crawl = httpx.get(
        f"{topology.api_b.url}/v1/kbs/{kb_id}/crawls/{crawl_id}", headers=topology.admin
    ).json()
    assert crawl["status"] == "done", crawl
    documents = httpx.get(
        f"{topology.api_b.url}/v1/kbs/{kb_id}/documents",
        params={"limit": 1000},
        headers=topology.admin,
    ).json()
    sources = [d["source"] for d in documents["items"]]
    pages = {f"{site.base}/p{i}" for i in range(PAGES)}
    assert len(sources) == len(set(sources)) and pages <= set(sources)
    # Exactly once: one document.ingested ("created") per page over both attempts, none
    # "updated" (a page ingested again would have been a new version).
    created = _ingested_events(receiver, kb_id, expected=len(sources))
    assert sorted(created) == sorted(sources), created
    counts = job["counts"]
    print(f"[kill test] documents={len(sources)} events created={len(created)} counts={counts}")
    assert counts["ingested"] + counts["unchanged"] == len(sources)
    assert counts["unchanged"] >= 4  # what the killed worker had ingested was not redone


def _unique(receiver: Receiver) -> dict[str, dict[str, Any]]:
    """Received deliveries de-duplicated by their X-KB-Delivery id, as a receiver would."""
    return {r.header("X-KB-Delivery"): r.json() for r in receiver.received()}


def _ingested_events(receiver: Receiver, kb_id: str, expected: int) -> list[str]:
    """The sources of the document.ingested events about ``kb_id``, once each arrived."""
    deadline = time.monotonic() + 60
    while True:
        found = [
            body["data"]
            for body in _unique(receiver).values()
            if body["type"] == "document.ingested" and body["data"]["kb_id"] == kb_id
        ]
        if len(found) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert all(data["outcome"] == "created" for data in found), found
    return [data["source"] for data in found]


def test_each_event_reaches_the_receiver_once_per_delivery_id(
    topology: Topology, receiver: Receiver
) -> None:
    kb_id = httpx.post(
        topology.api_b.url + "/v1/kbs", json={"name": "events"}, headers=topology.admin
    ).json()["id"]
    for i, api in enumerate([topology.api_a, topology.api_b, topology.api_a, topology.api_b]):
        httpx.post(
            f"{api.url}/v1/kbs/{kb_id}/documents",
            files={"file": (f"note-{i}.txt", f"Note {i}: the office opens at {8 + i}.".encode())},
            headers=topology.admin,
            timeout=60,
        ).raise_for_status()
    sources = _ingested_events(receiver, kb_id, expected=4)
    assert sorted(sources) == [f"note-{i}.txt" for i in range(4)]
    deliveries_of: dict[str, set[str]] = defaultdict(set)
    for received in receiver.received():
        deliveries_of[received.json()["id"]].add(received.header("X-KB-Delivery"))
    # One subscription: each event has exactly one delivery id, however often it was sent.
    assert all(len(ids) == 1 for ids in deliveries_of.values()), deliveries_of
    unique = _unique(receiver)
    assert len(unique) == len(deliveries_of)
    print(
        f"[webhooks] {len(receiver.received())} requests received, "
        f"{len(unique)} after de-duplication by delivery id, {len(deliveries_of)} events"
    )


def test_a_reindex_runs_as_a_job_on_a_worker(topology: Topology) -> None:
    kb_id = httpx.post(
        topology.api_a.url + "/v1/kbs", json={"name": "reindexed"}, headers=topology.admin
    ).json()["id"]
    httpx.post(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/documents",
        files={"file": ("hours.txt", b"The help desk answers from nine to five.")},
        headers=topology.admin,
        timeout=60,
    ).raise_for_status()
    started = httpx.post(
        f"{topology.api_b.url}/v1/kbs/{kb_id}/reindex",
        json={"embedding_model": "bundled:all-MiniLM-L6-v2"},
        headers=topology.admin,
        timeout=30,
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while (job := _job(topology, job_id))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    assert (job["kind"], job["status"], job["counts"]) == (
        "reindex",
        "succeeded",
        {"done": 1, "total": 1},
    )
    alive = {f":{w.pid}" for w in topology.workers if w.alive()}
    assert any(job["holder"].endswith(pid) for pid in alive)  # run by a worker, not a replica
    reindex = httpx.get(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/reindex/{job_id}", headers=topology.admin
    ).json()
    assert reindex["status"] == "done"


def test_a_crawl_cancelled_through_one_replica_stops_on_its_worker(
    topology: Topology, site: FixtureSite
) -> None:
    kb_id = httpx.post(
        topology.api_a.url + "/v1/kbs", json={"name": "cancelled"}, headers=topology.admin
    ).json()["id"]
    crawl_id = httpx.post(
        f"{topology.api_a.url}/v1/kbs/{kb_id}/crawls",
        json={"start_urls": [site.base + "/"], "delay_s": 0.5, "concurrency": 1},
        headers=topology.admin,
    ).json()["id"]
    deadline = time.monotonic() + 60
    while _job(topology, crawl_id)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cancelled = httpx.delete(
        f"{topology.api_b.url}/v1/kbs/{kb_id}/crawls/{crawl_id}",
        headers=topology.admin,
        timeout=30,
    )
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert _job(topology, crawl_id)["status"] == "cancelled"
