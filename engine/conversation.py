"""Conversations with memory: each message is answered with the history in mind, and both sides
are stored.

A conversation started by a visitor (``UserMessage.visitor``: through a publishable key) is
bound to them by a visitor token, returned once; its user id is whatever the visitor's page
said, so no stored profile is told to the model in it.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from engine.answer import QueryService
from engine.handoff.service import HandoffNotice, HandoffService
from engine.i18n import question_language
from engine.prompts import Asker
from engine.question import Question
from engine.quick_replies import QuickReplies
from engine.rewrite import QuestionRewriter, Turn
from engine.streaming import Finished, StreamEvent
from kb.db.conversations import (
    Conversation,
    ConversationEvent,
    ConversationRepository,
    EventType,
    Message,
    new_visitor_token,
    not_found,
)
from kb.db.handoff import HELD
from kb.db.profiles import ProfileRepository, UserProfile
from kb.db.registry import Registry
from kb.errors import Conflict, InvalidInput, KnowledgeBaseNotFound
from kb.models import Answer, KnowledgeBase
from kb.runtime.events import EventBus, EventName


@dataclass(frozen=True)
class Action:
    """A button or quick reply the user pressed: the bot answers its payload."""

    # "handoff": the visitor's "talk to a person" button (engine.handoff).
    type: Literal["button", "quick_reply", "handoff"]
    payload: str
    title: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserMessage:
    """What a user sends: text or an action, in a new or an existing conversation."""

    kb_id: str
    user_id: str
    text: str | None = None
    action: Action | None = None
    conversation_id: str | None = None
    model: str | None = None
    top_k: int = 5
    # Sent from a visitor's browser (a publishable key): a new conversation gets a token.
    visitor: bool = False
    verification: Literal["drop", "flag", "off"] | None = None


@dataclass(frozen=True)
class HeldConversation:
    """The last message of a conversation the client keeps (the OpenAI-compatible API), with
    the turns before it: nothing is stored."""

    kb: str  # id or name
    text: str
    history: tuple[Turn, ...] = ()
    model: str | None = None
    verification: Literal["drop", "flag", "off"] | None = None


@dataclass(frozen=True)
class BotReply:
    """The bot's answer to a message, with both stored messages."""

    conversation: Conversation
    user_message: Message
    bot_message: Message
    answer: Answer
    # Only when the message started a visitor's conversation: the one time it is shown.
    visitor_token: str | None = None
    # When the conversation went to (or is held for) a person: what the visitor is told.
    handoff: HandoffNotice | None = None
    quick_replies: tuple[dict[str, str], ...] = ()  # buttons offered with a refusal


@dataclass(frozen=True)
class _Turn:
    conversation: Conversation
    kb: KnowledgeBase
    text: str
    question: Question  # the standalone question, history resolved
    visitor_token: str | None = None
    started: float = 0.0  # time.perf_counter() when the message was received


class ConversationService:
    """Answers messages within conversations, and keeps their history, events and state."""

    def __init__(
        self,
        repository: ConversationRepository,
        profiles: ProfileRepository,
        registry: Registry,
        queries: QueryService,
        rewriter: QuestionRewriter,
        history_messages: int = 6,
        events: EventBus | None = None,
        handoff: HandoffService | None = None,
        quick_replies: QuickReplies | None = None,
    ) -> None:
        self._repo = repository
        self._quick_replies = quick_replies
        self._handoff = handoff
        self._profiles = profiles
        self._events = events  # told about new conversations and messages
        self._registry = registry
        self._queries = queries
        self._rewriter = rewriter
        self._history_messages = history_messages

    def send(self, message: UserMessage) -> BotReply:
        """Answer a message, storing it and the reply."""
        handed = self._handoff_turn(message)
        if handed is not None:
            return handed
        turn = self._prepare(message)
        answer = self._queries.answer(turn.question, turn.kb)
        user = self._store_user(turn, message)
        bot = self._store_bot(turn.conversation, answer, turn.started)
        notice = self._after_answer(turn)
        conversation = self._repo.get(turn.conversation.id)
        replies = self._offered(turn, answer, conversation.state if notice is None else "held")
        return BotReply(conversation, user, bot, answer, turn.visitor_token, notice, replies)

    def stream(self, message: UserMessage) -> Generator[StreamEvent, None, None]:
        """Answer a message as stream events; the reply is stored when it is complete.

        Unknown knowledge bases, conversations and models raise here, before any event.
        """
        handed = self._handoff_turn(message)
        if handed is not None:
            return _handed_stream(handed)
        turn = self._prepare(message)
        events = self._queries.stream(turn.question, turn.kb)
        user = self._store_user(turn, message)
        return self._relay(turn, user, events)

    def complete(self, held: HeldConversation) -> Answer:
        """Answer the last message of a client-held conversation (nothing is stored)."""
        kb, question = self._held_question(held)
        return self._queries.answer(question, kb)

    def complete_stream(self, held: HeldConversation) -> Generator[StreamEvent, None, None]:
        """``complete`` as stream events."""
        kb, question = self._held_question(held)
        return self._queries.stream(question, kb)

    def history(self, conversation_id: str, limit: int, offset: int) -> tuple[list[Message], int]:
        """A page of the conversation's messages, oldest first."""
        return self._repo.messages(conversation_id, limit, offset)

    def get(self, conversation_id: str) -> Conversation:
        """The conversation, with its variables and read/typing status."""
        return self._repo.get(conversation_id)

    def set_variables(self, conversation_id: str, variables: dict[str, Any]) -> Conversation:
        """Replace the conversation's variables (its state; StateTooLarge over the bound)."""
        return self._repo.set_variables(conversation_id, variables)

    def record_event(self, conversation_id: str, type_: EventType) -> ConversationEvent:
        """Record a typing or read event from the user's client."""
        return self._repo.add_event(conversation_id, type_)

    def profile(self, kb_id: str, user_id: str) -> UserProfile:
        """The user's profile in the knowledge base (empty when never saved)."""
        return self._profiles.get(kb_id, user_id)

    def save_profile(self, profile: UserProfile) -> UserProfile:
        """Create or replace a user's profile in its knowledge base."""
        return self._profiles.put(profile)

    def _asker(self, conversation: Conversation) -> Asker | None:
        """Who is asking, from the user's profile in the conversation's knowledge base (None
        when it says nothing, and in a visitor's conversation, whose user id nobody vouches
        for: naming a customer's id must not make the bot talk as if to them)."""
        if conversation.visitor_bound:
            return None
        profile = self._profiles.get(conversation.kb_id, conversation.user_id)
        if not profile.tells_the_model:
            return None
        return Asker(profile.name, profile.language, profile.plan)

    def _knowledge_base(self, id_or_name: str) -> KnowledgeBase:
        """The knowledge base with this id or name, read once (no document counts)."""
        kb = self._registry.find_kb(id_or_name, counts=False)
        if kb is None:
            raise KnowledgeBaseNotFound(f"No knowledge base with id or name {id_or_name!r}.")
        return kb

    def _held_question(self, held: HeldConversation) -> tuple[KnowledgeBase, Question]:
        kb = self._knowledge_base(held.kb)
        spec = self._queries.model_spec(kb, held.model)  # the rewriter uses the answering model
        standalone = self._rewriter.standalone(held.text, list(held.history), spec)
        return kb, Question(kb.id, standalone, model=held.model, verification=held.verification)

    def _prepare(self, message: UserMessage) -> _Turn:
        started = time.perf_counter()
        text = message.action.payload if message.action else message.text
        if not text or not text.strip():
            raise InvalidInput("A message needs 'text' or an 'action' with a payload.")
        kb = self._knowledge_base(message.kb_id)
        conversation, token = self._conversation(kb.id, message)
        # Refused before the model is asked, not when the reply is stored.
        self._repo.check_room_for_turn(conversation.id)
        if message.action and message.action.variables:
            conversation = self._repo.merge_variables(conversation.id, message.action.variables)
        history = [
            Turn("user" if m.role == "user" else "assistant", m.text, m.standalone_question)
            for m in self._repo.recent_messages(conversation.id, self._history_messages)
        ]
        spec = self._queries.model_spec(kb, message.model)
        standalone = self._rewriter.standalone(text, history, spec)
        question = Question(
            kb.id,
            standalone,
            model=message.model,
            top_k=message.top_k,
            asker=self._asker(conversation),
            verification=message.verification,
        )
        return _Turn(conversation, kb, text, question, token, started)

    def _conversation(self, kb_id: str, message: UserMessage) -> tuple[Conversation, str | None]:
        """The message's conversation, and its visitor token when it was started now."""
        if message.conversation_id is None:
            token = new_visitor_token() if message.visitor else None
            created = self._repo.create(kb_id, message.user_id, visitor_token=token)
            self._publish(
                "conversation.started",
                {"conversation_id": created.id, "kb_id": kb_id, "user_id": created.user_id},
            )
            return created, token
        conversation = self._repo.get(message.conversation_id)
        # Someone else's conversation is reported as missing, in the same words.
        if conversation.kb_id != kb_id or conversation.user_id != message.user_id:
            raise not_found(message.conversation_id)
        return conversation, None

    def _store_user(self, turn: _Turn, message: UserMessage) -> Message:
        stored = self._repo.add_message(
            turn.conversation.id,
            "user",
            turn.text,
            action=asdict(message.action) if message.action else None,
            standalone_question=turn.question.text,
        )
        self._message_created(turn.conversation, stored)
        return stored

    def _store_bot(
        self, conversation: Conversation, answer: Answer, started: float | None = None
    ) -> Message:
        # The answer's latency as the visitor saw it: from the message received to the answer.
        latency = round((time.perf_counter() - started) * 1000) if started else None
        stored = self._repo.add_message(
            conversation.id,
            "bot",
            answer.answer,
            citations=[asdict(c) for c in answer.citations],
            grounded=answer.grounded,
            model=answer.model,
            latency_ms=latency,
        )
        self._message_created(conversation, stored)
        return stored

    def _message_created(self, conversation: Conversation, message: Message) -> None:
        # Ids only: the text may quote documents, and receivers can read the history.
        self._publish(
            "message.created",
            {
                "conversation_id": conversation.id,
                "message_id": message.id,
                "kb_id": conversation.kb_id,
                "user_id": conversation.user_id,
                "role": message.role,
            },
        )

    def _publish(self, type_: EventName, data: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.publish(type_, data)

    def _handoff_turn(self, message: UserMessage) -> BotReply | None:
        """A message a person, not the bot, is to answer (engine.handoff): the conversation is
        held by one, or the message asks for one. Stored, and answered with a notice; no model
        is called. None for the bot to answer."""
        text = message.action.payload if message.action else message.text
        if self._handoff is None or not text or not text.strip():
            return None
        kb = self._knowledge_base(message.kb_id)
        conversation: Conversation | None = None
        if message.conversation_id is not None:
            conversation, _ = self._conversation(kb.id, message)
            if conversation.state == "closed":
                raise Conflict("This conversation is closed; start a new conversation.")
        action = message.action.type if message.action else None
        held = conversation is not None and conversation.state in HELD
        reason = None if held else self._handoff.requested_by(kb.id, text, action)
        if not held and reason is None:
            return None
        token = None
        if conversation is None:
            conversation, token = self._conversation(kb.id, message)
        self._repo.check_room_for_turn(conversation.id)
        user = self._repo.add_message(
            conversation.id, "user", text, action=asdict(message.action) if message.action else None
        )
        self._message_created(conversation, user)
        language = question_language(text)
        if reason is None:  # held: told again that a person answers; nothing else is stored
            notice = self._handoff.held_notice(conversation, language)
            bot = Message("", conversation.id, "bot", notice.text, user.created_at, model="handoff")
        else:
            conversation, notice, stored = self._handoff.request(conversation.id, reason, language)
            bot = stored or Message("", conversation.id, "bot", notice.text, user.created_at)
        answer = Answer(notice.text, [], "handoff", False)
        return BotReply(self._repo.get(conversation.id), user, bot, answer, token, notice)

    def _offered(self, turn: _Turn, answer: Answer, state: str) -> tuple[dict[str, str], ...]:
        """The quick replies that go with ``answer`` (none unless it is a refusal)."""
        if self._quick_replies is None:
            return ()
        replies = self._quick_replies.after(turn.kb.id, turn.text, answer, state)
        return tuple(r.as_dict() for r in replies)

    def _after_answer(self, turn: _Turn) -> HandoffNotice | None:
        """The policy's handoff after too many answers in a row the knowledge base lacked."""
        if self._handoff is None:
            return None
        conversation = self._repo.get(turn.conversation.id)
        return self._handoff.after_answer(conversation, question_language(turn.text))

    def _relay(
        self,
        turn: _Turn,
        user: Message,
        events: Generator[StreamEvent, None, None],
    ) -> Generator[StreamEvent, None, None]:
        try:
            for event in events:
                if isinstance(event, Finished):
                    bot = self._store_bot(turn.conversation, event.answer, turn.started)
                    ids = {
                        "conversation_id": turn.conversation.id,
                        "user_message_id": user.id,
                        "message_id": bot.id,
                    }
                    if turn.visitor_token:
                        ids["visitor_token"] = turn.visitor_token
                    notice = self._after_answer(turn)
                    if notice is not None:
                        ids |= notice.as_ids()
                    state = turn.conversation.state if notice is None else "held"
                    replies = self._offered(turn, event.answer, state)
                    event = Finished(event.answer, ids, event.streamed, replies)
                yield event
        finally:
            events.close()  # closing the relay (client gone) stops the model


def _handed_stream(reply: BotReply) -> Generator[StreamEvent, None, None]:
    """A handed-over turn as a stream: its notice in one ``done``."""
    ids = {
        "conversation_id": reply.conversation.id,
        "user_message_id": reply.user_message.id,
        "message_id": reply.bot_message.id,
    }
    if reply.visitor_token:
        ids["visitor_token"] = reply.visitor_token
    if reply.handoff is not None:
        ids |= reply.handoff.as_ids()
    yield Finished(reply.answer, ids)
