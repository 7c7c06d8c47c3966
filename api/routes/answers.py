"""Search and question routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from api.auth import own_model_choice, require
from api.deps import QueriesDep, RetrieverDep
from api.schemas.common import AnswerOut, PassageOut, QueryIn, SearchIn, SearchOut
from api.sse import SSE_RESPONSE, event_stream

router = APIRouter(prefix="/v1/kbs/{kb_id}", tags=["answers"])


# Searching reads the knowledge base; asking a question is a chat use.
@router.post("/search", response_model=SearchOut, dependencies=[Depends(require("kb:read"))])
def search(kb_id: str, body: SearchIn, retriever: RetrieverDep) -> SearchOut:
    """Passages best matching the query, best first (hybrid dense + BM25 by default)."""
    passages = retriever.search(kb_id, body.to_domain())
    return SearchOut(results=[PassageOut.of(p) for p in passages])


@router.post(
    "/query",
    response_model=AnswerOut,
    responses=SSE_RESPONSE,
    dependencies=[Depends(require("chat")), Depends(own_model_choice("model"))],
)
def query(
    kb_id: str, body: QueryIn, queries: QueriesDep, request: Request
) -> AnswerOut | StreamingResponse:
    """Answer a question from the knowledge base, citing the passages used.

    When nothing relevant is found the answer says so and ``grounded`` is false. With
    ``stream: true`` the answer comes as Server-Sent Events: ``delta``, ``citations``, ``done``.
    """
    question = body.to_domain(kb_id)
    if body.stream:
        return event_stream(request, queries.stream(question))
    return AnswerOut.of(queries.answer(question))
