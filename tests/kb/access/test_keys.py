"""The API-key repository on real SQLite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from kb.access.keys import KeyRepository
from kb.access.models import hash_secret
from kb.db.base import now
from kb.db.registry import Registry
from kb.errors import InvalidInput, KeyAlreadyRotated


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


def test_a_rotated_key_lasts_exactly_the_grace_period(keys: KeyRepository) -> None:
    """Regression guard: no test checked the grace period's length (doubling it passed)."""
    for asked, grace in ((None, timedelta(hours=1)), (timedelta(minutes=5), timedelta(minutes=5))):
        old = keys.create(["kb:read"])
        before = now()
        keys.rotate(old.key.prefix, asked)
        after = now()
        kept = keys.get(old.key.prefix)
        assert kept.expires_at is not None
        assert before + grace <= kept.expires_at <= after + grace
        assert kept.is_active(after + grace - timedelta(seconds=1))
        assert not kept.is_active(kept.expires_at)
        assert keys.authenticate(old.secret) == kept  # still inside the grace period


def test_a_rotated_key_is_not_rotated_again_and_its_grace_stays_as_it_was(
    keys: KeyRepository,
) -> None:
    """Regression (issue 19): re-rotating overwrote replaced_by, leaving the first replacement
    active and untracked."""
    old = keys.create(["kb:read"])
    first = keys.rotate(old.key.prefix, timedelta(minutes=5))
    ends = keys.get(old.key.prefix).expires_at
    with pytest.raises(KeyAlreadyRotated) as refused:
        keys.rotate(old.key.prefix, timedelta(days=30))
    assert refused.value.extra["replaced_by"] == first.key.prefix
    again = keys.get(old.key.prefix)
    assert again.expires_at == ends and again.replaced_by == first.key.prefix
    assert len(keys.list()) == 2  # no second replacement was left behind
    # The chain goes on from the replacement; revoking ends the old secret's grace at once.
    second = keys.rotate(first.key.prefix, timedelta(0))
    assert keys.get(first.key.prefix).replaced_by == second.key.prefix
    keys.revoke(old.key.prefix)
    assert keys.authenticate(old.secret) is None and keys.authenticate(first.secret) is None
    assert keys.authenticate(second.secret) == second.key


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


def test_a_publishable_key_is_chat_only_for_one_kb_from_listed_origins(
    keys: KeyRepository,
) -> None:
    issued = keys.create(
        ["chat"],
        ["kb_1"],
        kind="publishable",
        allowed_origins=["HTTPS://Shop.Example.com:443", "http://localhost:5173"],
    )
    assert issued.secret.startswith("kb_pub_") and issued.key.prefix.startswith("kb_pub_")
    assert issued.key.allowed_origins == ("http://localhost:5173", "https://shop.example.com")
    assert keys.authenticate(issued.secret) == issued.key
    assert keys.allowed_origins() == {"http://localhost:5173", "https://shop.example.com"}
    rotated = keys.rotate(issued.key.prefix, timedelta(0))
    assert rotated.key.kind == "publishable"
    assert rotated.key.allowed_origins == issued.key.allowed_origins
    keys.revoke(rotated.key.prefix)
    assert keys.allowed_origins() == frozenset()  # the cache forgets at once


@pytest.mark.parametrize(
    ("scopes", "kb_ids", "origins"),
    [
        (["chat", "kb:read"], ["kb_1"], ["https://a.example"]),
        (["admin"], ["kb_1"], ["https://a.example"]),
        (["chat"], None, ["https://a.example"]),
        (["chat"], ["kb_1", "kb_2"], ["https://a.example"]),
        (["chat"], ["kb_1"], None),
        (["chat"], ["kb_1"], ["*"]),
        (["chat"], ["kb_1"], ["https://*.example.com"]),
        (["chat"], ["kb_1"], ["https://a.example/widget"]),
        (["chat"], ["kb_1"], ["https://a.example?x=1"]),
        (["chat"], ["kb_1"], ["https://user:pw@a.example"]),
        (["chat"], ["kb_1"], ["ftp://a.example"]),
        (["chat"], ["kb_1"], ["null"]),
        (["chat"], ["kb_1"], ["https://a.example:99999"]),
    ],
)
def test_publishable_keys_that_would_be_unsafe_are_refused(
    keys: KeyRepository, scopes: list[str], kb_ids: list[str] | None, origins: list[str] | None
) -> None:
    with pytest.raises(InvalidInput):
        keys.create(scopes, kb_ids, kind="publishable", allowed_origins=origins)
    assert keys.list() == []


def test_a_secret_key_has_no_origins(keys: KeyRepository) -> None:
    with pytest.raises(InvalidInput):
        keys.create(["chat"], allowed_origins=["https://a.example"])


def test_a_database_from_before_publishable_keys_gains_the_new_columns(tmp_path: Path) -> None:
    """Regression: api_keys tables created before `kind` existed must keep working."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE api_keys (prefix VARCHAR(32) PRIMARY KEY, name VARCHAR(200), "
                "secret_hash VARCHAR(64), scopes JSON, kb_ids JSON, created_at DATETIME, "
                "expires_at DATETIME, revoked_at DATETIME, replaced_by VARCHAR(32))"
            )
        )
        connection.execute(
            text(
                "INSERT INTO api_keys VALUES ('kb_live_0badc0de', 'old', :hash, '[\"chat\"]', "
                "NULL, '2026-01-01 00:00:00', NULL, NULL, NULL)"
            ),
            {"hash": hash_secret("kb_live_0badc0de_secret")},
        )
    keys = KeyRepository(engine, timedelta(hours=1))
    old = keys.authenticate("kb_live_0badc0de_secret")
    assert old is not None and old.kind == "secret" and old.allowed_origins == ()
    assert keys.create(["chat"], ["kb_1"], kind="publishable", allowed_origins=["https://a.b"])
