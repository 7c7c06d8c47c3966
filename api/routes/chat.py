"""Conversation routes: messages, history, events, variables and user profiles."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from api.auth import conversation_in_body, kb_in_body, own_model_choice
from api.deps import (
    CallerDep,
    ConversationsDep,
    FeedbackDep,
    HistoryLimitDep,
    OffsetDep,
    ProfileKbDep,
    UserIdPath,
)
from api.schemas.chat import (
    ConversationOut,
    EventIn,
    EventOut,
    MessageOut,
    ProfileIn,
    ProfileOut,
    SendIn,
    SendOut,
    VariablesIn,
    VariablesOut,
)
from api.schemas.common import Page
from api.sse import SSE_RESPONSE, event_stream

# Routes naming a conversation in the path are checked by `api.auth.require`: its knowledge
# base, and for a publishable key the visitor's token.
router = APIRouter(prefix="/v1", tags=["conversations"])


@router.post(
    "/messages/send",
    response_model=SendOut,
    responses=SSE_RESPONSE,
    dependencies=[
        Depends(kb_in_body("kb_id")),
        Depends(conversation_in_body("conversation_id")),
        Depends(own_model_choice("model")),
    ],
)
def send_message(
    body: SendIn, conversations: ConversationsDep, key: CallerDep, request: Request
) -> SendOut | StreamingResponse:
    """Send a user message (text or a button action) and get the bot's grounded reply.

    Omit ``conversation_id`` to start a conversation; follow-ups are read with its history.
    With ``stream: true`` the reply comes as Server-Sent Events, ``done`` carrying the ids.
    A conversation started through a publishable key comes with a ``visitor_token``.
    """
    message = body.to_domain(visitor=key is not None and key.kind == "publishable")
    if body.stream:
        return event_stream(request, conversations.stream(message))
    return SendOut.of(conversations.send(message))


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
)
def get_conversation(conversation_id: str, conversations: ConversationsDep) -> ConversationOut:
    """A conversation with its variables and read/typing status."""
    return ConversationOut.of(conversations.get(conversation_id))


@router.get(
    "/conversations/{conversation_id}/history",
    response_model=Page[MessageOut],
)
def history(
    conversation_id: str,
    conversations: ConversationsDep,
    feedback: FeedbackDep,
    offset: OffsetDep = 0,
    limit: HistoryLimitDep = 50,
) -> Page[MessageOut]:
    """The conversation's messages, oldest first, a page at a time; bot messages with the
    feedback left on them."""
    messages, total = conversations.history(conversation_id, limit, offset)
    rated = feedback.of_messages(m.id for m in messages if m.role == "bot")
    items = [MessageOut.of(m, rated.get(m.id)) for m in messages]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/conversations/{conversation_id}/events",
    response_model=EventOut,
    status_code=202,
)
def post_event(conversation_id: str, body: EventIn, conversations: ConversationsDep) -> EventOut:
    """Record that the user is typing or has read the conversation."""
    return EventOut.of(conversations.record_event(conversation_id, body.type))


@router.get(
    "/conversations/{conversation_id}/variables",
    response_model=VariablesOut,
)
def get_variables(conversation_id: str, conversations: ConversationsDep) -> VariablesOut:
    """The conversation's variables (its state)."""
    conversation = conversations.get(conversation_id)
    return VariablesOut(conversation_id=conversation.id, variables=conversation.variables)


@router.put(
    "/conversations/{conversation_id}/variables",
    response_model=VariablesOut,
)
def put_variables(
    conversation_id: str, body: VariablesIn, conversations: ConversationsDep
) -> VariablesOut:
    """Replace the conversation's variables."""
    conversation = conversations.set_variables(conversation_id, body.variables)
    return VariablesOut(conversation_id=conversation.id, variables=conversation.variables)


@router.get("/users/{user_id}/profile", response_model=ProfileOut)
def get_profile(
    user_id: UserIdPath, kb: ProfileKbDep, conversations: ConversationsDep
) -> ProfileOut:
    """The user's profile in the knowledge base (empty attributes when never saved)."""
    return ProfileOut.of(conversations.profile(kb, user_id))


@router.put("/users/{user_id}/profile", response_model=ProfileOut)
def put_profile(
    user_id: UserIdPath, body: ProfileIn, kb: ProfileKbDep, conversations: ConversationsDep
) -> ProfileOut:
    """Create or replace the user's profile in the knowledge base."""
    return ProfileOut.of(conversations.save_profile(body.to_domain(kb, user_id)))
