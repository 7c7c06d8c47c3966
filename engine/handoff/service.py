"""Handing a conversation to a person and back: the state machine, the policy's triggers, agent
replies, the events a visitor polls, and the webhooks a helpdesk receives.

States: ``bot`` (the bot answers) -> ``waiting_for_agent`` (handoff requested: by the visitor's
button or words, by the policy after unanswered questions, or over the API) -> ``agent`` (a
person replied) -> back to ``bot`` (released) or ``closed``. While waiting or held by an agent,
the bot stores the visitor's messages and says a person will answer; no model is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.handoff.intent import asks_for_a_person
from engine.handoff.policy import HandoffPolicy
from engine.i18n import question_language
from kb.db.conversations import Conversation, ConversationRepository, Message
from kb.db.handoff import HELD, HandoffRepository
from kb.db.profiles import ProfileRepository
from kb.errors import Conflict
from kb.runtime.events import EventBus, EventName

HANDOFF_MODEL = "handoff"  # the ``model`` of the notices the bot stores
_LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class HandoffNotice:
    """What the visitor is told when the conversation goes to, or is held for, a person."""

    state: str
    text: str
    reason: str | None = None
    # Whether people work now (business hours); else when they will, and the lead form.
    available: bool = True
    available_at: datetime | None = None
    lead_form: bool = False

    def as_ids(self) -> dict[str, str]:
        """The notice as the flat fields a stream's ``done`` event carries."""
        ids = {"state": self.state, "handoff_notice": self.text}
        ids["handoff_available"] = "true" if self.available else "false"
        if self.reason:
            ids["handoff_reason"] = self.reason
        if self.available_at and not self.available:
            ids["handoff_available_at"] = self.available_at.isoformat()
        if self.lead_form:
            ids["handoff_lead_form"] = "true"
        return ids


@dataclass(frozen=True)
class ConversationEvents:
    """What a visitor's poll returns: the state and the messages after the cursor."""

    conversation: Conversation
    messages: list[Message]
    cursor: int


class HandoffService:
    """Hands conversations to people and back, by visitor, policy or API, and tells webhooks."""

    def __init__(
        self,
        repository: HandoffRepository,
        conversations: ConversationRepository,
        profiles: ProfileRepository,
        events: EventBus | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        transcript_messages: int = 50,
    ) -> None:
        self._repo = repository
        self._conversations = conversations
        self._profiles = profiles
        self._events = events
        self._clock = clock
        self._transcript_messages = transcript_messages

    # ---- settings ----
    def policy(self, kb_id: str) -> HandoffPolicy:
        """The knowledge base's policy (handoff off until saved)."""
        return HandoffPolicy.from_dict(self._repo.get_settings(kb_id)[0])

    def settings(self, kb_id: str) -> tuple[dict[str, Any], datetime | None]:
        """The stored settings and when they were saved."""
        return self._repo.get_settings(kb_id)

    def save_settings(self, kb_id: str, settings: dict[str, Any]) -> datetime:
        """Replace the knowledge base's handoff settings (validated by the caller)."""
        return self._repo.put_settings(kb_id, settings)

    # ---- triggers ----
    def requested_by(self, kb_id: str, text: str, action_type: str | None) -> str | None:
        """The reason a visitor's message hands the conversation over, or None: the handoff
        button (Conflict when handoff is off) or words asking for a person."""
        policy = self.policy(kb_id)
        if action_type == "handoff":
            _check_enabled(policy)
            return "visitor_request"
        if policy.enabled and policy.recognise_requests and asks_for_a_person(text):
            return "visitor_message"
        return None

    def after_answer(self, conversation: Conversation, language: str) -> HandoffNotice | None:
        """Hand over when the last ``after_unanswered`` answers in a row were "not in the
        knowledge base" (the policy's trigger); the notice, or None."""
        policy = self.policy(conversation.kb_id)
        wanted = policy.after_unanswered
        if not policy.enabled or not wanted or conversation.state != "bot":
            return None
        unanswered = 0
        for message in reversed(self._conversations.recent_messages(conversation.id, 4 * wanted)):
            if message.role == "user":
                continue
            if message.role != "bot" or message.model == HANDOFF_MODEL or not _not_found(message):
                break
            unanswered += 1
        if unanswered < wanted:
            return None
        return self.request(conversation.id, "unanswered", language)[1]

    def request(
        self, conversation_id: str, reason: str, language: str | None = None
    ) -> tuple[Conversation, HandoffNotice, Message | None]:
        """Hand the conversation to a person: the state, the visitor's notice (stored as a bot
        message), and ``conversation.handoff_requested``. Already with a person: the notice
        of the current state, nothing stored (Conflict when closed or handoff is off)."""
        conversation = self._conversations.get(conversation_id)
        policy = self.policy(conversation.kb_id)
        _check_enabled(policy)
        language = language or self._language(conversation_id)
        if conversation.state in HELD:
            return conversation, self.held_notice(conversation, language), None
        conversation = self._repo.transition(conversation_id, "waiting_for_agent", ("bot",), reason)
        notice = self._notice(policy, conversation, "requested", language)
        stored = self._conversations.add_message(
            conversation_id, "bot", notice.text, model=HANDOFF_MODEL
        )
        self._publish("conversation.handoff_requested", self._handoff_data(conversation, notice))
        return conversation, notice, stored

    def held_notice(self, conversation: Conversation, language: str) -> HandoffNotice:
        """What a visitor writing to a conversation a person holds is told."""
        policy = self.policy(conversation.kb_id)
        return self._notice(policy, conversation, "held", language)

    # ---- agents ----
    def agent_reply(self, conversation_id: str, text: str, agent_name: str | None) -> Message:
        """Store a person's reply; the conversation is theirs from now on (``agent``)."""
        conversation = self._conversations.get(conversation_id)
        if conversation.state == "closed":
            raise Conflict(
                "The conversation is 'closed'; it takes no more replies.", state="closed"
            )
        # The message and the state change in one transaction: a visitor's poll sees both.
        message = self._conversations.add_message(
            conversation_id, "agent", text, state="agent", agent_name=agent_name
        )
        conversation = self._conversations.get(conversation_id)
        data = self._ids(conversation) | {"message_id": message.id, "agent_name": agent_name}
        self._publish("conversation.agent_replied", data)
        # As for the visitor's and the bot's messages: ids only, the history has the text.
        ids = self._ids(conversation)
        del ids["state"]
        self._publish("message.created", ids | {"message_id": message.id, "role": "agent"})
        return message

    def release(self, conversation_id: str) -> Conversation:
        """Hand the conversation back to the bot (``conversation.released``)."""
        conversation = self._repo.transition(conversation_id, "bot", HELD)
        self._publish("conversation.released", self._ids(conversation))
        return conversation

    def close(self, conversation_id: str) -> Conversation:
        """End the conversation: no one answers it any more (``conversation.closed``)."""
        conversation = self._repo.transition(conversation_id, "closed", ("bot", *HELD))
        self._publish("conversation.closed", self._ids(conversation))
        return conversation

    def events(self, conversation_id: str, after: int, limit: int = 100) -> ConversationEvents:
        """The conversation's state and its messages after cursor ``after``."""
        messages = self._repo.messages_after(conversation_id, after, limit)
        conversation = self._conversations.get(conversation_id)
        cursor = messages[-1].seq if messages else max(after, 0)
        return ConversationEvents(conversation, messages, cursor)

    # ---- helpers ----
    def _notice(
        self, policy: HandoffPolicy, conversation: Conversation, key: str, language: str
    ) -> HandoffNotice:
        now = self._clock()
        reason = conversation.handoff_reason
        if policy.hours.is_open(now):
            return HandoffNotice(conversation.state, policy.notice(key, language), reason)
        opens = policy.hours.next_opening(now)
        text = policy.notice("closed_hours", language, opens)
        return HandoffNotice(conversation.state, text, reason, False, opens, lead_form=True)

    def _language(self, conversation_id: str) -> str:
        recent = self._conversations.recent_messages(conversation_id, 10)
        said = " ".join(m.text for m in recent if m.role == "user")
        found = question_language(said) if said else "en"
        return found if found in _LANGUAGES else "en"

    def _handoff_data(self, conversation: Conversation, notice: HandoffNotice) -> dict[str, Any]:
        profile = self._profiles.get(conversation.kb_id, conversation.user_id)
        transcript = self._conversations.recent_messages(conversation.id, self._transcript_messages)
        return self._ids(conversation) | {
            "reason": conversation.handoff_reason,
            "available": notice.available,
            "available_at": notice.available_at.isoformat() if notice.available_at else None,
            "profile": {
                "name": profile.name,
                "language": profile.language,
                "plan": profile.plan,
                "attributes": profile.attributes,
                # A visitor's browser names its own user id: nobody vouches for the profile.
                "verified": not conversation.visitor_bound,
            },
            "transcript": [
                {
                    "role": m.role,
                    "text": m.text,
                    "created_at": m.created_at.isoformat(),
                    "agent_name": m.agent_name,
                }
                for m in transcript
            ],
        }

    @staticmethod
    def _ids(conversation: Conversation) -> dict[str, Any]:
        return {
            "conversation_id": conversation.id,
            "kb_id": conversation.kb_id,
            "user_id": conversation.user_id,
            "state": conversation.state,
        }

    def _publish(self, type_: EventName, data: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.publish(type_, data)


def _check_enabled(policy: HandoffPolicy) -> None:
    if not policy.enabled:
        raise Conflict("Human handoff is turned off for this knowledge base.")


def _not_found(message: Message) -> bool:
    """A bot answer the knowledge base could not give (the refusal: ungrounded, no sources)."""
    return message.grounded is False and not message.citations
