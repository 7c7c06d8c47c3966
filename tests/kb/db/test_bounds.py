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


def test_a_conversations_messages_are_bounded_in_bytes_not_only_in_number(
    registry: Registry,
) -> None:
    """Regression (issue 19): 1,000 messages x 64 KiB actions let one conversation hold 64 MB."""
    cap = 300_000
    repository = ConversationRepository(registry.engine, StorageLimits(bytes_per_conversation=cap))
    kb_id = registry.create_kb("shop", "").id
    conversation = repository.create(kb_id, "u1")
    action = {"payload": "buy", "variables": {"blob": "x" * (STATE_MAX_BYTES - 100)}}
    turns = 0
    with pytest.raises(LimitReached) as refused:
        for _ in range(100):
            repository.check_room_for_turn(conversation.id)  # as the service does first
            repository.add_message(conversation.id, "user", "buy", action=action)
            repository.add_message(conversation.id, "bot", "Done.", citations=[])
            turns += 1
    assert refused.value.to_dict()["code"] == "limit_reached"
    assert refused.value.to_dict()["limit"] == cap and refused.value.to_dict()["unit"] == "bytes"
    # The turn that crossed the cap was kept whole; nothing after it.
    assert turns == 5 and repository.messages(conversation.id)[1] == 10
    with pytest.raises(LimitReached):
        repository.add_message(conversation.id, "user", "again")
    # Another conversation of the same user is not affected.
    other = repository.create(kb_id, "u1")
    repository.add_message(other.id, "user", "hello")


def test_conversations_stored_before_the_byte_count_are_counted_from_their_messages(
    registry: Registry,
) -> None:
    """Regression guard (issue 19): rows from before the column must not start from zero."""
    repository = ConversationRepository(registry.engine, StorageLimits(bytes_per_conversation=0))
    kb_id = registry.create_kb("shop", "").id
    conversation = repository.create(kb_id, "u1")
    for _ in range(3):
        repository.add_message(conversation.id, "user", "y" * 40_000)
    with registry.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE conversations SET stored_bytes = NULL")
    capped = ConversationRepository(registry.engine, StorageLimits(bytes_per_conversation=100_000))
    with pytest.raises(LimitReached):
        capped.check_room_for_turn(conversation.id)
