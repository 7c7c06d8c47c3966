"""Request bodies checked before any route sees them: media type, UTF-8, JSON shape and size.

``JsonBodyLimits`` is a pure ASGI middleware (streamed responses pass through untouched). A body
whose media type is not JSON, multipart or a URL-encoded form gets 415. A JSON body is read
once (``BodySizeLimit`` around it caps its bytes), parsed with Python's C parser, and refused:

- 422 ``validation_failed`` when it is not UTF-8, not JSON (``NaN`` and ``Infinity`` included),
  or repeats a key in one object (parsers disagree on which copy wins);
- 400 ``json_too_complex`` when it nests deeper than ``max_depth``, holds more than
  ``max_items`` values, or a string (value or key) longer than ``max_string_chars``.

Depth cannot blow the stack: the C parser gives up with ``RecursionError`` on runaway nesting
(``[[[[...`` x 100000), which is answered as too deep, and everything else is measured without
recursion. The body is then replayed unchanged to the application.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from kb.errors import JsonTooComplex, KBError, UnsupportedMediaType, ValidationFailed

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies up to this size are checked on the event loop (well under a millisecond).
_INLINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class JsonCaps:
    """How large and deep a JSON body may be."""

    max_depth: int
    max_string_chars: int
    max_items: int


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(f"body: {message}", errors=[{"loc": ["body"], "msg": message}])


def parse_json(body: bytes, caps: JsonCaps) -> Any:
    """The parsed body, or ValidationFailed (not JSON) or JsonTooComplex (over ``caps``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"not valid UTF-8 (byte {exc.start})") from exc
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError as exc:
        raise _too_deep(caps) from exc
    except _DuplicateKey as exc:
        raise _invalid(f"the key {str(exc)[:100]!r} appears twice in one object") from exc
    except json.JSONDecodeError as exc:
        raise _invalid(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except ValueError as exc:  # NaN, Infinity
        raise _invalid(f"not valid JSON: {exc}") from exc
    measure(data, caps)
    return data


def measure(data: Any, caps: JsonCaps) -> None:
    """Raise JsonTooComplex when ``data`` is over ``caps``; iterative, so any depth is safe."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > caps.max_items:
            raise JsonTooComplex(
                f"The JSON body holds more than {caps.max_items} values.", max_items=caps.max_items
            )
        if isinstance(value, str):
            _check_string(value, caps)
        elif isinstance(value, dict | list):
            if depth > caps.max_depth:
                raise _too_deep(caps)
            items = value.values() if isinstance(value, dict) else value
            if isinstance(value, dict):
                for key in value:
                    _check_string(key, caps)
            stack.extend((item, depth + 1) for item in items)


def _check_string(value: str, caps: JsonCaps) -> None:
    if len(value) > caps.max_string_chars:
        raise JsonTooComplex(
            f"A string in the JSON body is longer than {caps.max_string_chars} characters.",
            max_string_chars=caps.max_string_chars,
        )


def _too_deep(caps: JsonCaps) -> JsonTooComplex:
    return JsonTooComplex(
        f"The JSON body is nested deeper than {caps.max_depth} levels.", max_depth=caps.max_depth
    )


def _media_type(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return None


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


class JsonBodyLimits:
    """Refuses bodies of unknown media types and JSON bodies that are malformed or too complex."""

    def __init__(self, app: ASGIApp, max_depth: int, max_string_chars: int, max_items: int) -> None:
        self.app = app
        self.caps = JsonCaps(max_depth, max_string_chars, max_items)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        media_type = _media_type(scope)
        if media_type is None or not _is_json(media_type):
            if _has_body(scope) and not (media_type or "").startswith(_FORMS):
                await problem(_unsupported(media_type))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
            if len(body) > _INLINE_BYTES:
                # Checking megabytes takes up to a second: never on the event loop, where it
                # would stall every other request (this runs before authentication).
                await anyio.to_thread.run_sync(_parse_unless_blank, body, self.caps)
            else:
                _parse_unless_blank(body, self.caps)
        except KBError as error:  # BodySizeLimit's refusal comes from receive, outside routes
            await problem(error)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _parse_unless_blank(body: bytes, caps: JsonCaps) -> None:
    if body.strip():
        parse_json(body, caps)


def _unsupported(media_type: str | None) -> UnsupportedMediaType:
    shown = (media_type or "none")[:100]
    return UnsupportedMediaType(
        f"Request bodies are application/json (or multipart/form-data for uploads); got {shown!r}."
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app meets the disconnect itself
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
