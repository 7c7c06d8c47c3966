"""The DB-lease schedule: each entry runs once per period however many processes tick."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine

from kb.jobs.schedule import Entry, Scheduler


def test_an_entry_runs_once_per_period_across_schedulers(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    runs: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        with lock:
            runs.append("sweep")

    schedulers = [Scheduler(engine, [Entry("sweep", 3600, run)]) for _ in range(4)]
    threads = [threading.Thread(target=s.tick) for s in schedulers for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs == ["sweep"]
    assert all(s.tick() == [] for s in schedulers)  # not due again within the period


def test_a_due_entry_runs_again_after_its_period(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    runs: list[int] = []
    scheduler = Scheduler(engine, [Entry("drain", 0.0, lambda: runs.append(1))])
    assert scheduler.tick() == ["drain"]
    assert scheduler.tick() == ["drain"]
    assert len(runs) == 2
