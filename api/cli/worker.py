"""``kb worker``: run background jobs (crawls...) from the broker, with the container's handlers.

One process per worker, its jobs on threads (they share the loaded embedding model), one message
taken at a time per thread and acknowledged only when the job has ended. The worker also runs
the schedule (lease sweeper, outbox drain), claimed once per period across all workers, and
sends webhook deliveries.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer
from rich.console import Console

from api.container import build_container
from api.log_config import configure_logging
from kb.jobs.celery_queue import QUEUE, CeleryQueue, bind_runner
from kb.jobs.schedule import Entry
from kb.settings import Settings

err = Console(stderr=True)


def worker_command(
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Jobs this worker runs at once (threads).")
    ] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery's log level.")] = "INFO",
) -> None:
    """Run jobs from KB_JOBS__BROKER_URL until stopped (SIGTERM waits for running jobs)."""
    settings = Settings()
    if not settings.jobs.broker_url:
        err.print("[red]Set KB_JOBS__BROKER_URL (e.g. redis://127.0.0.1:6379/0) first.[/red]")
        raise typer.Exit(2)
    configure_logging(settings.log)
    container = build_container(settings)
    background = container.background
    backend = background.jobs.backend
    assert isinstance(backend, CeleryQueue)  # a broker is set
    bind_runner(backend.app, background.jobs.runner)
    retention = container.data.retention
    if retention.days > 0:  # once per period across the workers, not once per process
        interval = settings.privacy.retention_interval_s
        background.scheduler.add(Entry("retention", interval, retention.run_once))
    try:
        container.ingestion.warm_up()
        background.scheduler.start()
        container.webhook_dispatcher.start()
        backend.app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--loglevel={loglevel}",
                "--without-gossip",
                "--without-mingle",
                "--prefetch-multiplier=1",
                f"--queues={QUEUE}",
                f"--hostname=kb-{socket.gethostname()}-{os.getpid()}",
            ]
        )
    finally:
        container.close()
