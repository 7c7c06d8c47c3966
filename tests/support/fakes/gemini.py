"""A real HTTP server on 127.0.0.1 speaking the Gemini REST API (``generateContent``).

The official ``google-genai`` client is pointed at it (``http_options.base_url``)::

    with FakeGeminiServer(reply="Paris.") as server:
        model = GeminiModel("gemini-test", api_key="test-key", base_url=server.base_url)
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.fakes.base import FakeHandler, FakeServer

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
}


class _Handler(FakeHandler):
    paths = re.compile(
        r"^/v1beta/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)"
    )

    def answer(self, body: Any, route: re.Match[str]) -> None:
        model, reply = route["model"], self.fake.reply
        if route["method"] != "streamGenerateContent":
            self.send_json(200, _response(body, model, reply, final=True))
        elif "alt=sse" not in self.path:
            self.send_json(400, self.error(400, "only alt=sse is spoken here"))
        else:
            self.send_sse(_stream_chunks(body, model, reply), line_end="\r\n")

    def error(self, status: int, message: str) -> dict[str, Any]:
        return _error(status, _STATUS_NAMES.get(status, "UNAVAILABLE"), message)

    def refusal(self, status: int) -> str:
        return f"Bad key {self.presented_key()}."

    def refuse(self, status: int) -> None:
        error = self.error(status, self.refusal(status))
        if self.fake.retry_delay is not None:
            retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
            error["error"]["details"] = [retry_info | {"retryDelay": self.fake.retry_delay}]
        self.send_json(status, error, self.retry_headers())


def _stream_chunks(body: dict[str, Any], model: str, reply: str) -> list[dict[str, Any]]:
    """One chunk per word; the usage of the whole reply comes with the last one."""
    words = reply.split(" ")
    chunks = [
        _response(body, model, word + " ", final=i == len(words) - 1)
        for i, word in enumerate(words)
    ]
    chunks[-1]["usageMetadata"] = _usage(body, reply)
    return chunks


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    texts = [p["text"] for c in body["contents"] for p in c["parts"]]
    texts += [p["text"] for p in body.get("systemInstruction", {}).get("parts", [])]
    prompt = sum(len(text.split()) for text in texts)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": len(reply.split()),
        "totalTokenCount": prompt + len(reply.split()),
    }


def _response(body: dict[str, Any], model: str, text: str, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    candidate["index"] = 0
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if final:
        candidate["finishReason"] = "STOP"
        response["usageMetadata"] = _usage(body, text)
    return response


class FakeGeminiServer(FakeServer):
    """A Gemini API server on a free port; set ``reply`` or script failures (``FakeServer``).

    ``retry_delay`` (a ``RetryInfo`` detail such as ``"1s"``) says, in the error body, when to
    come back.
    """

    handler = _Handler

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        super().__init__(reply)
        self.retry_delay: str | None = None

    @property
    def base_url(self) -> str:
        """What ``google-genai`` takes as ``http_options.base_url`` (it adds ``/v1beta/...``)."""
        return self.origin
