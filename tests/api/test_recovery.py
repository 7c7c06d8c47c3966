"""The service, at start, removes what a killed process left in the indexes and logs it."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from ingest.sources import RawSource
from kb.models import chunk_id


def test_start_removes_orphan_chunks_and_logs_the_counts(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    """Orphan chunks left by a kill -9 mid-ingestion were never reconciled at start."""
    kb = container.catalog.create_kb("handbook")
    raw = RawSource(b"The office opens at nine. It closes at five.", source="hours.md")
    document = container.ingestion.ingest(kb.id, raw).document
    live = container.catalog.document_chunks(kb.id, document.id)
    newer = "f" * 16  # a newer version written, the registry never switched to it
    orphans = [replace(c, id=chunk_id(document.id, newer, c.index), version=newer) for c in live]
    container.store.add(kb.id, orphans, container.embedder.embed([c.text for c in orphans]))
    container.lexical.add(kb.id, orphans)
    assert container.store.count(kb.id) == 2 * len(live)

    with caplog.at_level(logging.INFO, logger="kb.reconcile"), TestClient(create_app(container)):
        assert container.store.count(kb.id) == container.lexical.count(kb.id) == len(live)
        kept = container.catalog.document_chunks(kb.id, document.id)
        assert [c.id for c in kept] == [c.id for c in live]
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "kb.reconcile"]
    assert logged == (
        f"reconciled: removed {len(live)} vectors chunks ({len(live)} inactive_version); "
        f"{len(live)} lexical chunks ({len(live)} inactive_version)"
    )
