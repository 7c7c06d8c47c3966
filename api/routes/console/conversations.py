"""Console pages of conversations: the list (by knowledge base, start date, answered or not)
and a transcript with its citations. Reading them needs ``kb:read`` on their knowledge base."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.auth import check_kb
from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, ReaderDep
from api.deps import CatalogDep, ContainerDep, ConversationsDep
from kb.db.conversation_list import ConversationFilter

router = APIRouter(
    prefix=f"{PREFIX}/conversations", route_class=ConsoleRoute, include_in_schema=False
)
PAGE_SIZE = 25
TRANSCRIPT = 200
Answered = Literal["", "yes", "no"]


def _day(value: date | None, after: bool = False) -> datetime | None:
    if value is None:
        return None
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if after else moment


@router.get("")
def conversations_page(
    request: Request,
    caller: ReaderDep,
    catalog: CatalogDep,
    container: ContainerDep,
    kb: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    answered: Annotated[Answered, Query()] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The conversations this key may read, newest first, filtered."""
    key = caller.key
    reachable = None if key is None or key.kb_ids is None else list(key.kb_ids)
    kbs, _total = catalog.list_kbs(1000, 0, reachable)
    kb_ids = reachable
    if kb:
        check_kb(request, key, kb)
        kb_ids = [kb]
    where = ConversationFilter(
        kb_ids=kb_ids,
        start=_day(since),
        end=_day(until, after=True),
        answered={"yes": True, "no": False}.get(answered),
    )
    items, total = container.conversation_list.page(where, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    filters = f"kb={kb}&since={since or ''}&until={until or ''}&answered={answered}&"
    return render(
        request,
        "conversations.html",
        {
            "items": items,
            "total": total,
            "kbs": kbs,
            "names": {k.id: k.name for k in kbs},
            "filter": {"kb": kb, "since": since or "", "until": until or "", "answered": answered},
            "query": filters,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


@router.get("/{conversation_id}")
def transcript_page(
    request: Request,
    conversation_id: str,
    caller: ReaderDep,
    catalog: CatalogDep,
    conversations: ConversationsDep,
) -> Response:
    """One conversation's messages, with the passages each answer cites."""
    conversation = conversations.get(conversation_id)
    check_kb(request, caller.key, conversation.kb_id)
    messages, total = conversations.history(conversation_id, TRANSCRIPT, 0)
    return render(
        request,
        "transcript.html",
        {
            "conversation": conversation,
            "kb_name": catalog.get_kb(conversation.kb_id).name,
            "messages": messages,
            "total": total,
        },
    )
