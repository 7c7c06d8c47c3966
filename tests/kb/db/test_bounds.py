"""Stored free-form objects are bounded where they are written, whatever path writes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.db.bounds import STATE_MAX_BYTES, STATE_MAX_KEYS, StorageLimits
from kb.db.conversations import ConversationRepository
from kb.db.leads import LeadIn, LeadRepository
from kb.db.profiles import ProfileRepository, UserProfile
from kb.db.registry import Registry
from kb.errors import LimitReached, StateTooLarge
from kb.runtime.events import EventBus


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    opened = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    yield opened
    opened.close()


def test_merged_variables_are_held_to_the_bound_and_a_refused_merge_writes_nothing(
    registry: Registry,
) -> None:
    """Regression (security review): merges (button actions) skipped the bound that only the
    PUT route's request schema applied."""
    repository = ConversationRepository(registry.engine)
    kb_id = registry.create_kb("shop", "").id
    conversation = repository.create(kb_id, "u1")
    half = {f"a{i}": i for i in range(STATE_MAX_KEYS // 2 + 10)}
    repository.merge_variables(conversation.id, half)
    with pytest.raises(StateTooLarge):
        repository.merge_variables(conversation.id, {f"b{i}": i for i in range(len(half))})
    with pytest.raises(StateTooLarge):
        repository.merge_variables(conversation.id, {"big": "x" * STATE_MAX_BYTES})
    with pytest.raises(StateTooLarge):
        repository.set_variables(conversation.id, {"k" * 201: 1})
    assert repository.get(conversation.id).variables == half


def test_profile_attributes_and_lead_fields_are_bounded_too(registry: Registry) -> None:
    kb_id = registry.create_kb("shop", "").id
    profiles = ProfileRepository(registry.engine)
    too_many = {f"k{i}": i for i in range(STATE_MAX_KEYS + 1)}
    with pytest.raises(StateTooLarge):
        profiles.put(UserProfile(kb_id=kb_id, user_id="u1", attributes=too_many))
    assert profiles.get(kb_id, "u1").attributes == {}

    conversations = ConversationRepository(registry.engine)
    leads = LeadRepository(registry.engine, EventBus())
    conversation = conversations.create(kb_id, "u1")
    huge = {"notes": "x" * STATE_MAX_BYTES}
    with pytest.raises(StateTooLarge):
        leads.record(conversation, LeadIn("Ada", "ada@example.com", fields=huge))
    assert leads.list(kb_id)[1] == 0


def test_caps_of_zero_mean_no_cap(registry: Registry) -> None:
    kb_id = registry.create_kb("shop", "").id
    capped = ConversationRepository(registry.engine, StorageLimits(conversations_per_user=1))
    capped.create(kb_id, "u1")
    with pytest.raises(LimitReached):
        capped.create(kb_id, "u1")
    uncapped = ConversationRepository(registry.engine, StorageLimits(conversations_per_user=0))
    uncapped.create(kb_id, "u1")
