"""The server process runs the retention job: a conversation idle for longer than
KB_PRIVACY__RETENTION_DAYS is deleted while the app runs; a recent one stays."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.container import Container
from kb.db.conversations import ConversationRow
from kb.errors import ConversationNotFound
from kb.settings import Settings
from tests.conftest import admin_headers, make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "data", privacy__retention_days=30, privacy__retention_interval_s=0.05
    )


def test_the_app_deletes_idle_conversations(container: Container) -> None:
    kb_id = container.catalog.create_kb("shop").id
    repo = container.conversations._repo
    old, recent = repo.create(kb_id, "v1"), repo.create(kb_id, "v2")
    with container.registry.engine.begin() as connection:
        connection.execute(
            update(ConversationRow)
            .where(ConversationRow.id == old.id)
            .values(updated_at=datetime.now(UTC) - timedelta(days=31))
        )
    with TestClient(create_app(container), headers=admin_headers(container)):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                repo.get(old.id)
            except ConversationNotFound:
                break
            time.sleep(0.05)
        with pytest.raises(ConversationNotFound):
            repo.get(old.id)
        assert repo.get(recent.id).id == recent.id
