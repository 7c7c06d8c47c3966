"""Conversations with memory: each message is answered with the history in mind, and both sides
are stored."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from engine.answer import QueryService
from engine.prompts import Asker
from engine.rewrite import QuestionRewriter, Turn
from engine.streaming import Finished, StreamEvent
from kb.db.conversations import (
    Conversation,
    ConversationEvent,
    ConversationRepository,
    EventType,
    Message,
    UserProfile,
)
from kb.db.registry import Registry
from kb.errors import ConversationNotFound, InvalidInput, KnowledgeBaseNotFound
from kb.models import Answer
from kb.runtime.events import EventBus, EventName


@dataclass(frozen=True)
class Action:
    """A button or quick reply the user pressed: the bot answers its payload."""

    type: Literal["button", "quick_reply"]
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


@dataclass(frozen=True)
class BotReply:
    """The bot's answer to a message, with both stored messages."""

    conversation: Conversation
    user_message: Message
    bot_message: Message
    answer: Answer


@dataclass(frozen=True)
class _Turn:
    conversation: Conversation
    text: str
    standalone: str


class ConversationService:
    """Answers messages within conversations, and keeps their history, events and state."""

    def __init__(
        self,
        repository: ConversationRepository,
        registry: Registry,
        queries: QueryService,
        rewriter: QuestionRewriter,
        history_messages: int = 6,
        events: EventBus | None = None,
    ) -> None:
        self._repo = repository
        self._events = events  # told about new conversations and messages
        self._registry = registry
        self._queries = queries
        self._rewriter = rewriter
        self._history_messages = history_messages

    def send(self, message: UserMessage) -> BotReply:
        """Answer a message, storing it and the reply."""
        turn = self._prepare(message)
        answer = self._queries.answer(
            turn.conversation.kb_id,
            turn.standalone,
            model=message.model,
            top_k=message.top_k,
            asker=self._asker(message.user_id),
        )
        user = self._store_user(turn, message)
        bot = self._store_bot(turn.conversation, answer)
        return BotReply(self._repo.get(turn.conversation.id), user, bot, answer)

    def stream(self, message: UserMessage) -> Generator[StreamEvent, None, None]:
        """Answer a message as stream events; the reply is stored when it is complete.

        Unknown knowledge bases, conversations and models raise here, before any event.
        """
        turn = self._prepare(message)
        events = self._queries.stream(
            turn.conversation.kb_id,
            turn.standalone,
            model=message.model,
            top_k=message.top_k,
            asker=self._asker(message.user_id),
        )
        user = self._store_user(turn, message)
        return self._relay(turn.conversation, user, events)

    def resolve_kb(self, id_or_name: str) -> str:
        """The id of the knowledge base with this id or name, or KnowledgeBaseNotFound."""
        kb = self._registry.find_kb(id_or_name)
        if kb is None:
            raise KnowledgeBaseNotFound(f"No knowledge base with id or name {id_or_name!r}.")
        return kb.id

    def complete(
        self, kb: str, question: str, history: list[Turn], model: str | None = None
    ) -> Answer:
        """Answer the last message of a client-held conversation (nothing is stored)."""
        kb_id = self.resolve_kb(kb)
        spec = self._queries.model_spec(kb_id, model)  # the rewriter uses the answering model
        standalone = self._rewriter.standalone(question, history, spec)
        return self._queries.answer(kb_id, standalone, model=model)

    def complete_stream(
        self, kb: str, question: str, history: list[Turn], model: str | None = None
    ) -> Generator[StreamEvent, None, None]:
        """``complete`` as stream events."""
        kb_id = self.resolve_kb(kb)
        spec = self._queries.model_spec(kb_id, model)
        standalone = self._rewriter.standalone(question, history, spec)
        return self._queries.stream(kb_id, standalone, model=model)

    def history(self, conversation_id: str, limit: int, offset: int) -> tuple[list[Message], int]:
        """A page of the conversation's messages, oldest first."""
        return self._repo.messages(conversation_id, limit, offset)

    def get(self, conversation_id: str) -> Conversation:
        """The conversation, with its variables and read/typing status."""
        return self._repo.get(conversation_id)

    def set_variables(self, conversation_id: str, variables: dict[str, Any]) -> Conversation:
        """Replace the conversation's variables (its state)."""
        return self._repo.set_variables(conversation_id, variables)

    def record_event(self, conversation_id: str, type_: EventType) -> ConversationEvent:
        """Record a typing or read event from the user's client."""
        return self._repo.add_event(conversation_id, type_)

    def profile(self, user_id: str) -> UserProfile:
        """The user's profile (empty when never saved)."""
        return self._repo.get_profile(user_id)

    def save_profile(self, profile: UserProfile) -> UserProfile:
        """Create or replace a user's profile."""
        return self._repo.put_profile(profile)

    def _asker(self, user_id: str) -> Asker | None:
        """Who is asking, from the user's profile (None when it says nothing)."""
        profile = self._repo.get_profile(user_id)
        if not (profile.name or profile.language or profile.plan):
            return None
        return Asker(profile.name, profile.language, profile.plan)

    def _prepare(self, message: UserMessage) -> _Turn:
        text = message.action.payload if message.action else message.text
        if not text or not text.strip():
            raise InvalidInput("A message needs 'text' or an 'action' with a payload.")
        conversation = self._conversation(message)
        if message.action and message.action.variables:
            merged = {**conversation.variables, **message.action.variables}
            conversation = self._repo.set_variables(conversation.id, merged)
        history = [
            Turn("user" if m.role == "user" else "assistant", m.text, m.standalone_question)
            for m in self._repo.recent_messages(conversation.id, self._history_messages)
        ]
        spec = self._queries.model_spec(conversation.kb_id, message.model)
        standalone = self._rewriter.standalone(text, history, spec)
        return _Turn(conversation, text, standalone)

    def _conversation(self, message: UserMessage) -> Conversation:
        kb_id = self.resolve_kb(message.kb_id)
        if message.conversation_id is None:
            created = self._repo.create(kb_id, message.user_id)
            self._publish(
                "conversation.started",
                {"conversation_id": created.id, "kb_id": kb_id, "user_id": created.user_id},
            )
            return created
        conversation = self._repo.get(message.conversation_id)
        # Someone else's conversation is reported as missing rather than as forbidden.
        if conversation.kb_id != kb_id or conversation.user_id != message.user_id:
            raise ConversationNotFound(
                f"No conversation {message.conversation_id!r} for this user and knowledge base."
            )
        return conversation

    def _store_user(self, turn: _Turn, message: UserMessage) -> Message:
        stored = self._repo.add_message(
            turn.conversation.id,
            "user",
            turn.text,
            action=asdict(message.action) if message.action else None,
            standalone_question=turn.standalone,
        )
        self._message_created(turn.conversation, stored)
        return stored

    def _store_bot(self, conversation: Conversation, answer: Answer) -> Message:
        stored = self._repo.add_message(
            conversation.id,
            "bot",
            answer.answer,
            citations=[asdict(c) for c in answer.citations],
            grounded=answer.grounded,
            model=answer.model,
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

    def _relay(
        self,
        conversation: Conversation,
        user: Message,
        events: Generator[StreamEvent, None, None],
    ) -> Generator[StreamEvent, None, None]:
        try:
            for event in events:
                if isinstance(event, Finished):
                    bot = self._store_bot(conversation, event.answer)
                    ids = {
                        "conversation_id": conversation.id,
                        "user_message_id": user.id,
                        "message_id": bot.id,
                    }
                    event = Finished(event.answer, ids)
                yield event
        finally:
            events.close()  # closing the relay (client gone) stops the model
