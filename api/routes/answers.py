"""Search and question routes."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import QueriesDep, RetrieverDep
from api.schemas import AnswerOut, PassageOut, QueryIn, SearchIn, SearchOut
from engine.retrieve import SearchRequest

router = APIRouter(prefix="/v1/kbs/{kb_id}", tags=["answers"])


@router.post("/search", response_model=SearchOut)
def search(kb_id: str, body: SearchIn, retriever: RetrieverDep) -> SearchOut:
    """Passages nearest the query, best first, with cosine-similarity scores."""
    passages = retriever.search(
        kb_id,
        SearchRequest(
            body.query,
            top_k=body.top_k,
            min_score=body.min_score,
            document_ids=tuple(body.document_ids),
        ),
    )
    return SearchOut(results=[PassageOut.of(p) for p in passages])


@router.post("/query", response_model=AnswerOut)
def query(kb_id: str, body: QueryIn, queries: QueriesDep) -> AnswerOut:
    """Answer a question from the knowledge base, citing the passages used.

    When nothing relevant is found the answer says so and ``grounded`` is false.
    """
    answer = queries.answer(
        kb_id,
        body.question,
        model=body.model,
        top_k=body.top_k,
        document_ids=tuple(body.document_ids),
    )
    return AnswerOut.of(answer)
