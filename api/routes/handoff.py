"""Human handoff: a conversation handed to a person and back, agents' replies, the events a
visitor polls, and each knowledge base's handoff settings (docs/handoff.md)."""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, status
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.deps import CatalogDep, HandoffDep
from api.schemas.chat import ConversationOut, MessageOut
from api.schemas.handoff import (
    AgentMessageIn,
    ConversationEventsOut,
    HandoffIn,
    HandoffOut,
    HandoffSettingsIn,
    HandoffSettingsOut,
)

# Guarded per route: visitors ask for a person and poll (chat), people answer (agent), and
# administrators set the policy. `require` checks the conversation in the path (knowledge base,
# visitor token).
router = APIRouter(tags=["handoff"])
_CHAT = [Depends(require("chat"))]
_AGENT = [Depends(require("agent"))]
MAX_WAIT_S = 25  # under the idle timeouts of common proxies (60 s)
_POLL_EVERY_S = 1.0
AfterQuery = Annotated[
    int, Query(ge=0, description="The cursor of the last poll (0: from the start).")
]
WaitQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_WAIT_S,
        description="Long polling: hold the answer up to this many seconds until a message or "
        "a state change comes (0: answer at once).",
    ),
]


@router.post(
    "/v1/conversations/{conversation_id}/handoff", response_model=HandoffOut, dependencies=_CHAT
)
def request_handoff(conversation_id: str, body: HandoffIn, handoff: HandoffDep) -> HandoffOut:
    """Hand the conversation to a person; fires ``conversation.handoff_requested``."""
    conversation, notice, stored = handoff.request(conversation_id, body.reason)
    return HandoffOut(
        conversation=ConversationOut.of(conversation),
        text=notice.text,
        available=notice.available,
        available_at=notice.available_at,
        lead_form=notice.lead_form,
        message=MessageOut.of(stored) if stored else None,
    )


@router.get(
    "/v1/conversations/{conversation_id}/events",
    response_model=ConversationEventsOut,
    dependencies=_CHAT,
)
async def poll_events(
    conversation_id: str, handoff: HandoffDep, after: AfterQuery = 0, wait: WaitQuery = 0
) -> ConversationEventsOut:
    """The conversation's state and the messages after ``after`` (agents' replies included).

    With ``wait`` the answer comes as soon as there is something new, or after ``wait``
    seconds: a visitor's page then asks a few times a minute, not every second or two, which
    matters because every visitor of a site shares its publishable key's rate limit. The wait
    holds no worker thread (the registry is read every second in the thread pool).
    """
    events = await run_in_threadpool(handoff.events, conversation_id, after)
    deadline = time.monotonic() + wait
    while not events.messages and time.monotonic() < deadline:
        await anyio.sleep(_POLL_EVERY_S)
        latest = await run_in_threadpool(handoff.events, conversation_id, after)
        if latest.messages or latest.conversation.state != events.conversation.state:
            events = latest
            break
    return ConversationEventsOut.of(events)


@router.post(
    "/v1/conversations/{conversation_id}/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=_AGENT,
)
def agent_message(conversation_id: str, body: AgentMessageIn, handoff: HandoffDep) -> MessageOut:
    """A person's reply; the conversation is theirs (``agent``) until released or closed."""
    return MessageOut.of(handoff.agent_reply(conversation_id, body.text, body.agent_name))


@router.post(
    "/v1/conversations/{conversation_id}/release",
    response_model=ConversationOut,
    dependencies=_AGENT,
)
def release(conversation_id: str, handoff: HandoffDep) -> ConversationOut:
    """Hand the conversation back to the bot; fires ``conversation.released``."""
    return ConversationOut.of(handoff.release(conversation_id))


@router.post(
    "/v1/conversations/{conversation_id}/close",
    response_model=ConversationOut,
    dependencies=_AGENT,
)
def close(conversation_id: str, handoff: HandoffDep) -> ConversationOut:
    """End the conversation; fires ``conversation.closed``."""
    return ConversationOut.of(handoff.close(conversation_id))


@router.get(
    "/v1/kbs/{kb_id}/handoff",
    response_model=HandoffSettingsOut,
    dependencies=[Depends(require("admin"))],
)
def get_settings(kb_id: str, catalog: CatalogDep, handoff: HandoffDep) -> HandoffSettingsOut:
    """The knowledge base's handoff settings (handoff off until saved)."""
    found = catalog.require_kb(kb_id).id
    return HandoffSettingsOut.of(found, *handoff.settings(found))


@router.put(
    "/v1/kbs/{kb_id}/handoff",
    response_model=HandoffSettingsOut,
    dependencies=[Depends(require("admin"))],
)
def put_settings(
    kb_id: str, body: HandoffSettingsIn, catalog: CatalogDep, handoff: HandoffDep
) -> HandoffSettingsOut:
    """Replace the knowledge base's handoff settings (policy, business hours, notices)."""
    found = catalog.require_kb(kb_id).id
    stored = body.model_dump(mode="json")
    return HandoffSettingsOut.of(found, stored, handoff.save_settings(found, stored))
