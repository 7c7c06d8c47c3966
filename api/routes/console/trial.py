"""Console page "try it": ask the knowledge base as a visitor would and read the answer with
each citation's passage and score. Questions go through the conversation service, so a test
conversation appears with the others."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import check_conversation
from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, ChatterDep, ConsoleCaller
from api.deps import CatalogDep, ConversationsDep
from engine.conversation import UserMessage
from kb.db.conversations import Message, not_found

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
TRANSCRIPT = 100


def console_user(caller: ConsoleCaller) -> str:
    """The user id test conversations are stored under: the console and the key."""
    return f"console:{caller.key.prefix if caller.key else 'local'}"


@router.get("/kbs/{kb_id}/try")
def try_page(
    request: Request,
    kb_id: str,
    caller: ChatterDep,
    catalog: CatalogDep,
    conversations: ConversationsDep,
    conversation: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The question box, and the test conversation so far."""
    kb = catalog.get_kb(kb_id)
    messages: list[Message] = []
    if conversation:
        check_conversation(request, caller.key, conversation)
        if conversations.get(conversation).kb_id != kb.id:
            raise not_found(conversation)
        messages, _total = conversations.history(conversation, TRANSCRIPT, 0)
    return render(
        request,
        "try.html",
        {"kb": kb, "tab": "try", "messages": messages, "conversation": conversation or ""},
    )


@router.post("/kbs/{kb_id}/try")
def ask(
    request: Request,
    kb_id: str,
    caller: ChatterDep,
    catalog: CatalogDep,
    conversations: ConversationsDep,
    question: Annotated[str, Form(min_length=1, max_length=4000)],
    conversation: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Ask, then show the conversation (a new one unless continuing)."""
    kb = catalog.get_kb(kb_id)
    if conversation:
        check_conversation(request, caller.key, conversation)
        if conversations.get(conversation).kb_id != kb.id:
            raise not_found(conversation)
    reply = conversations.send(
        UserMessage(
            kb_id=kb.id,
            user_id=console_user(caller),
            text=question,
            conversation_id=conversation or None,
        )
    )
    target = f"{PREFIX}/kbs/{kb.id}/try?conversation={reply.conversation.id}#latest"
    return RedirectResponse(target, status_code=303)
