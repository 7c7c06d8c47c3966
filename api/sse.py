"""Server-Sent Events over the engine's answer streams, stopping the model when the client goes.

The answer events (``/query`` and ``/messages/send`` with ``stream: true``)::

    event: delta       data: {"text": "Staff park on level "}        (repeated, as generated)
    event: verdict     data: {"answer", "replaced", "grounded", "claims", "verification",
                              "dropped"}   (when verified: the checked text; a client replaces
                                            what it showed when "replaced" is true)
    event: citations   data: {"citations": [...]}                     (checked, as in JSON answers)
    event: done        data: {"answer", "model", "grounded", "usage", ...ids}
    event: error       data: {the one error shape}                    (only after streaming began)
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.schemas.chat import usage_out
from api.schemas.common import CitationOut, ClaimOut
from api.schemas.openai import usage_dict, verdict_fields
from engine.streaming import Delta, Finished, StreamEvent
from kb.errors import KBError

log = logging.getLogger(__name__)
Renderer = Callable[[StreamEvent], Iterable[str]]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# For OpenAPI: routes that can answer with an event stream say so.
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE with stream: true."}
}


def sse(event: str | None, data: Any) -> str:
    """One SSE message; ``data`` is sent as JSON unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, default=str)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


def verdict_data(event: Finished) -> dict[str, Any]:
    """The body of a ``verdict`` event: the checked answer and every claim's verdict."""
    answer = event.answer
    return {
        "answer": answer.answer,
        "replaced": event.replaced,
        "grounded": answer.grounded,
        "claims": [ClaimOut.of(c).model_dump() for c in answer.claims],
        "verification": answer.verification,
        "dropped": answer.dropped,
    }


def render_answer_event(event: StreamEvent) -> Iterable[str]:
    """The SSE messages of one answer event (see the module docstring)."""
    if isinstance(event, Delta):
        yield sse("delta", {"text": event.text})
        return
    answer = event.answer
    if answer.verification != "off":
        yield sse("verdict", verdict_data(event))
    citations = [CitationOut.of(c).model_dump() for c in answer.citations]
    yield sse("citations", {"citations": citations})
    yield sse(
        "done",
        {
            "answer": answer.answer,
            "model": answer.model,
            "grounded": answer.grounded,
            "usage": usage_out(answer.usage).model_dump(),
            **event.ids,
            **({"quick_replies": list(event.quick_replies)} if event.quick_replies else {}),
        },
    )


def event_stream(
    request: Request,
    events: Generator[StreamEvent, None, None],
    render: Renderer = render_answer_event,
    error: Callable[[KBError], str] = lambda exc: sse("error", exc.to_dict()),
) -> StreamingResponse:
    """A text/event-stream response over ``events``.

    The first event is produced before the response starts, so a provider that fails at once
    still gets the normal JSON error (and status). Later errors become an error event. Call it
    from a sync route (FastAPI runs those in a worker thread): the first event blocks.
    """
    try:
        first = next(events, None)
    except BaseException:
        events.close()
        raise
    return StreamingResponse(
        _body(request, events, first, render, error),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _body(
    request: Request,
    events: Generator[StreamEvent, None, None],
    event: StreamEvent | None,
    render: Renderer,
    error: Callable[[KBError], str],
) -> AsyncIterator[str]:
    try:
        while event is not None:
            for message in render(event):
                yield message
            if await request.is_disconnected():
                log.info("client disconnected; generation stopped")
                return
            event = await run_in_threadpool(next, events, None)
    except KBError as exc:
        yield error(exc)
    except Exception as exc:
        log.exception("stream failed", exc_info=exc)
        yield error(KBError("An unexpected error occurred; it has been logged."))
    finally:
        # Shielded: when the client is gone this task is being cancelled, and the model must
        # still be told to stop. The worker thread has returned by now (threads are not
        # abandoned on cancel), so closing the generator is safe.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(events.close)


class ChunkRenderer:
    """Turns answer events into ``chat.completion.chunk`` SSE messages."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self._base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self._include_usage = include_usage
        self._started = False

    def __call__(self, event: StreamEvent) -> Iterable[str]:
        """The SSE messages for one event; the last event ends with ``[DONE]``."""
        if isinstance(event, Delta):
            delta = {"content": event.text}
            if not self._started:
                delta["role"] = "assistant"
                self._started = True
            yield self._chunk(delta)
            return
        answer = event.answer
        # The checked text rides on the final chunk too: a client replaces what it showed when
        # ``replaced`` is true (claims dropped, markers corrected).
        yield self._chunk(
            {}, "stop", **verdict_fields(answer), answer=answer.answer, replaced=event.replaced
        )
        usage = usage_dict(answer.usage)
        if self._include_usage and usage is not None:
            yield sse(None, {**self._base, "choices": [], "usage": usage})
        yield sse(None, "[DONE]")

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse(None, {**self._base, "choices": [choice], **extra})


def stream_error(exc: KBError) -> str:
    """A mid-stream error as OpenAI streams send it (the client raises on it)."""
    return sse(None, {"error": {**exc.to_dict(), "message": exc.detail}})
