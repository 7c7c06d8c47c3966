"""The distributed setup is chosen by configuration, and refuses to start half-configured:
several processes must share their signing and encryption keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app as cli_app
from api.distributed import SharedKeysMissing, build_jobs
from kb.db.registry import Registry
from tests.conftest import make_settings


def test_a_broker_without_shared_keys_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    settings.jobs.broker_url = "redis://127.0.0.1:1/0"
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    with pytest.raises(SharedKeysMissing) as refused:
        build_jobs(settings, registry)
    assert "KB_SECURITY__TOKEN_SIGNING_KEY and KB_SECURITY__ENCRYPTION_KEYS" in str(refused.value)


def test_without_a_broker_jobs_run_in_process(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    jobs = build_jobs(settings, Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}"))
    assert not jobs.distributed and jobs.backend.name == "in-process"
    jobs.close()


def test_kb_worker_needs_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_JOBS__BROKER_URL", raising=False)
    result = CliRunner().invoke(cli_app, ["worker"])
    assert result.exit_code == 2 and "KB_JOBS__BROKER_URL" in result.output
