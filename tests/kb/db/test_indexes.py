"""The registry's record of each knowledge base's embedding index and its re-index jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.db.indexes import EmbeddingIndex, IndexRecords
from kb.db.registry import Registry
from kb.errors import ReindexInProgress


def test_switch_jobs_and_erasure(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    records = IndexRecords(registry.engine)
    kb = registry.create_kb("docs")
    first = records.record(EmbeddingIndex(kb.id, "m1", "m1:aaa", 384, kb.id))
    # The first record wins: a second adoption does not overwrite it.
    assert records.record(EmbeddingIndex(kb.id, "m2", "m2:bbb", 384, kb.id)) == first

    job = records.start_job(kb.id, "m2", f"{kb.id}-0001")
    with pytest.raises(ReindexInProgress):
        records.start_job(kb.id, "m2", f"{kb.id}-0002")
    records.update_job(job.id, status="running", total=5)
    new = EmbeddingIndex(kb.id, "m2", "m2:bbb", 768, job.collection)
    records.switch(new, job.id)
    assert records.get(kb.id) == new
    done = records.get_job(kb.id, job.id)
    assert (done.status, done.done, done.finished_at is not None) == ("done", 5, True)

    registry.delete_kb(kb.id)  # its index record and jobs go with it
    assert records.get(kb.id) is None and records.jobs(kb.id) == []
    registry.close()
