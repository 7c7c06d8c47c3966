"""The API-key repository on real SQLite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kb.errors import InvalidInput
from kb.keys import KeyRepository, hash_secret
from kb.registry import Registry


@pytest.fixture
def keys(tmp_path: Path) -> KeyRepository:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    return KeyRepository(registry.engine, timedelta(hours=1))


def test_only_the_exact_secret_authenticates(keys: KeyRepository) -> None:
    issued = keys.create(["chat"], name="widget")
    assert keys.authenticate(issued.secret) == issued.key
    assert (
        keys.authenticate(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None
    )
    assert keys.authenticate(issued.key.prefix) is None
    assert keys.authenticate("not a key") is None
    assert hash_secret(issued.secret) != issued.secret


def test_a_rotated_key_expires_after_the_grace_period(keys: KeyRepository) -> None:
    old = keys.create(["kb:read"], ["kb_1"])
    new = keys.rotate(old.key.prefix)
    assert new.key.kb_ids == ("kb_1",) and new.key.scopes == ("kb:read",)
    kept = keys.get(old.key.prefix)
    assert kept.is_active() and kept.expires_at is not None
    assert not kept.is_active(kept.expires_at + timedelta(seconds=1))


def test_scopes_are_checked_and_admin_implies_all(keys: KeyRepository) -> None:
    with pytest.raises(InvalidInput):
        keys.create(["root"])
    admin = keys.create(["admin"]).key
    assert admin.has_scope("kb:write") and admin.may_reach("kb_any")
    reader = keys.create(["kb:read"], ["kb_1"]).key
    assert not reader.has_scope("chat") and not reader.may_reach("kb_2")
    keys.revoke(reader.prefix)
    with pytest.raises(InvalidInput):
        keys.rotate(reader.prefix)
