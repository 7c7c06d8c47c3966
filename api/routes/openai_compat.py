"""The OpenAI-compatible API: each knowledge base is a model that answers chat completions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from api.auth import kb_in_body, own_model_choice
from api.deps import CatalogDep, ConversationsDep, ReachableKbsDep
from api.schemas.openai import ChatCompletionIn, completion, model_list
from api.sse import SSE_RESPONSE, ChunkRenderer, event_stream, stream_error

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
_MAX_MODELS = 1000


@router.get("/models")
def list_models(catalog: CatalogDep, reachable: ReachableKbsDep) -> dict[str, Any]:
    """Every knowledge base the caller's key may reach as an OpenAI model (``id`` is its id)."""
    kbs, _total = catalog.list_kbs(limit=_MAX_MODELS, offset=0, only=reachable)
    return model_list(kbs)


@router.post(
    "/chat/completions",
    responses=SSE_RESPONSE,
    response_model=None,
    dependencies=[Depends(kb_in_body("model")), Depends(own_model_choice("answer_model"))],
)
def chat_completions(
    body: ChatCompletionIn, conversations: ConversationsDep, request: Request
) -> dict[str, Any] | StreamingResponse:
    """Answer the last user message from the knowledge base named by ``model``.

    Earlier messages are the history a follow-up is read with. Checked citations are in the
    extra ``citations`` field (top level; in a stream, on the final chunk).
    """
    held = body.to_domain()
    if body.stream:
        render = ChunkRenderer(body.model, body.include_usage)
        return event_stream(request, conversations.complete_stream(held), render, stream_error)
    return completion(conversations.complete(held), body.model)
