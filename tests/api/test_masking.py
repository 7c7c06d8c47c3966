"""With KB_PRIVACY__MASK_PII, the e-mail addresses and phone numbers a visitor writes are masked
in what is stored (message, rewritten question), not in what the bot answers from; off by
default."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.container import Container
from kb.settings import Settings
from tests.conftest import make_settings

TEXT = "How much is the starter plan? Mail me at ada@example.com or call +33 6 12 34 56 78."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", privacy__mask_pii=True)


def test_stored_messages_are_masked(client: TestClient, container: Container) -> None:
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    client.post(
        f"/v1/kbs/{kb_id}/documents",
        json={"title": "Prices", "text": "The starter plan costs 9 EUR a month."},
    )
    reply = client.post(
        "/v1/messages/send", json={"kb_id": kb_id, "user_id": "v", "text": TEXT}
    ).json()
    assert reply["answer"]  # the bot answered (from the text as sent)
    masked = "How much is the starter plan? Mail me at [email] or call [phone]."
    assert reply["user_message"]["text"] == masked
    history = client.get(f"/v1/conversations/{reply['conversation_id']}/history").json()
    stored = history["items"][0]
    assert stored["text"] == masked
    assert "ada@example.com" not in (stored["standalone_question"] or "")
    assert "12 34 56" not in (stored["standalone_question"] or "")
    assert container.settings.privacy.mask_pii


def test_masking_is_off_by_default() -> None:
    assert Settings().privacy.mask_pii is False
