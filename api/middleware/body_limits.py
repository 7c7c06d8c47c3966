"""Request bodies over the configured limits are refused before they are read whole."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from kb.errors import PayloadTooLarge


class BodySizeLimit:
    """Refuses request bodies over a limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json = max_json_bytes
        # Multipart framing adds a little around the file itself.
        self.max_multipart = max_upload_bytes + 64 * 1024
        self.max_upload = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.max_multipart if multipart else self.max_json
        shown = self.max_upload if multipart else self.max_json
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await problem(_too_large(shown, multipart))(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(shown, multipart)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int, multipart: bool) -> PayloadTooLarge:
    what = "upload" if multipart else "request body"
    return PayloadTooLarge(f"The {what} is over the limit of {limit} bytes.", limit_bytes=limit)
