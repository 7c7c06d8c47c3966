"""The one exception tree of the engine.

Every error a caller can cause or meet derives from ``KBError``; each subclass carries the HTTP
status and the stable machine ``code`` that the API renders in its one JSON error shape::

    KBError (500, internal_error)
    ├── InvalidInput (400, invalid_input)
    │   ├── ValidationFailed (422, validation_failed)
    │   ├── UrlRefused (400, url_refused)
    │   └── JsonTooComplex (400, json_too_complex)
    ├── Unauthorized (401, unauthorized)
    ├── Forbidden (403, forbidden)
    ├── NotFound (404, not_found)
    │   ├── KnowledgeBaseNotFound (404, kb_not_found)
    │   ├── DocumentNotFound (404, document_not_found)
    │   ├── CrawlNotFound (404, crawl_not_found)
    │   ├── ConversationNotFound (404, conversation_not_found)
    │   ├── MessageNotFound (404, message_not_found)
    │   ├── ApiKeyNotFound (404, api_key_not_found)
    │   ├── OAuthClientNotFound (404, oauth_client_not_found)
    │   ├── ProviderNotFound (404, provider_not_found)
    │   ├── ReindexJobNotFound (404, reindex_job_not_found)
    │   ├── JobNotFound (404, job_not_found)
    │   ├── WebhookNotFound (404, webhook_not_found)
    │   ├── DeliveryNotFound (404, delivery_not_found)
    │   └── RouteNotFound (404, route_not_found)
    ├── MethodNotAllowed (405, method_not_allowed)
    ├── RequestTimeout (408, request_timeout)
    ├── Conflict (409, conflict)
    │   ├── KnowledgeBaseExists (409, kb_exists)
    │   ├── CrawlInProgress (409, crawl_in_progress)
    │   ├── CrawlFinished (409, crawl_finished)
    │   ├── KeyAlreadyRotated (409, key_already_rotated)
    │   ├── LimitReached (409, limit_reached)
    │   ├── EmbeddingModelMismatch (409, embedding_model_mismatch)
    │   └── ReindexInProgress (409, reindex_in_progress)
    ├── PayloadTooLarge (413, payload_too_large)
    │   └── StateTooLarge (413, state_too_large)
    ├── UnsupportedMediaType (415, unsupported_media_type)
    ├── TooManyRequests (429, rate_limited)
    ├── UnprocessableDocument (422, unprocessable_document)
    │   ├── EmptyDocument (422, empty_document)
    │   ├── CorruptDocument (422, corrupt_document)
    │   ├── NoExtractableText (422, no_extractable_text)
    │   └── DocumentTooComplex (422, document_too_complex)
    ├── OAuthError (400, invalid_request): the token endpoint, with RFC 6749 §5.2 ``error``
    │   ├── OAuthInvalidClient (401, invalid_client)
    │   ├── OAuthUnsupportedGrantType (400, unsupported_grant_type)
    │   └── OAuthInvalidScope (400, invalid_scope)
    ├── ModelUnavailable (503, model_unavailable)
    └── ProviderError (502, provider_error)
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, ClassVar


class KBError(Exception):
    """Base of every error the engine raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    # Response headers the error must carry (WWW-Authenticate, Retry-After); not in the body.
    headers: ClassVar[MappingProxyType[str, str]] = MappingProxyType({})

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.response_headers: dict[str, str] = dict(self.headers)

    def to_dict(self) -> dict[str, Any]:
        """Render the stable JSON error body (RFC 9457 problem details plus ``code``)."""
        body: dict[str, Any] = {
            "type": f"https://kb-engine.dev/errors/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        for key, value in self.extra.items():
            body.setdefault(key, value)
        return body


class InvalidInput(KBError):
    """The request is malformed or asks for something impossible."""

    status, code, title = 400, "invalid_input", "Invalid input"


class ValidationFailed(InvalidInput):
    """A request body, path or query parameter failed validation."""

    status, code, title = 422, "validation_failed", "Validation failed"


class UrlRefused(InvalidInput):
    """A URL the crawler will not fetch: not http(s), or a host on a refused network."""

    code, title = "url_refused", "URL refused"


class JsonTooComplex(InvalidInput):
    """A JSON body nested too deep, with too many values, or with an over-long string."""

    code, title = "json_too_complex", "JSON body too complex"


class Unauthorized(KBError):
    """No API key was sent, or it is unknown, revoked or expired."""

    status, code, title = 401, "unauthorized", "Unauthorized"
    headers = MappingProxyType({"WWW-Authenticate": 'Bearer realm="kb-engine"'})


class Forbidden(KBError):
    """The API key lacks the scope, or may not reach this knowledge base."""

    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(KBError):
    """A named resource does not exist."""

    status, code, title = 404, "not_found", "Not found"


class KnowledgeBaseNotFound(NotFound):
    """No knowledge base has this id (or name)."""

    code, title = "kb_not_found", "Knowledge base not found"


class DocumentNotFound(NotFound):
    """No document has this id in the knowledge base."""

    code, title = "document_not_found", "Document not found"


class CrawlNotFound(NotFound):
    """No crawl has this id in the knowledge base."""

    code, title = "crawl_not_found", "Crawl not found"


class ConversationNotFound(NotFound):
    """No conversation has this id (for this user and knowledge base)."""

    code, title = "conversation_not_found", "Conversation not found"


class MessageNotFound(NotFound):
    """No message has this id (in a conversation the caller may reach)."""

    code, title = "message_not_found", "Message not found"


class ApiKeyNotFound(NotFound):
    """No API key has this prefix."""

    code, title = "api_key_not_found", "API key not found"


class WebhookNotFound(NotFound):
    """No webhook subscription has this id."""

    code, title = "webhook_not_found", "Webhook not found"


class DeliveryNotFound(NotFound):
    """No delivery of this webhook has this id."""

    code, title = "delivery_not_found", "Delivery not found"


class ProviderNotFound(NotFound):
    """No model provider has this name."""

    code, title = "provider_not_found", "Provider not found"


class ReindexJobNotFound(NotFound):
    """No such re-index job."""

    code = "reindex_job_not_found"
    title = "Re-index job not found"


class JobNotFound(NotFound):
    """No background job has this id (or the caller may not reach its knowledge base)."""

    code, title = "job_not_found", "Job not found"


class OAuthClientNotFound(NotFound):
    """No OAuth client has this client id."""

    code, title = "oauth_client_not_found", "OAuth client not found"


class RouteNotFound(NotFound):
    """No route matches the request path."""

    code, title = "route_not_found", "Route not found"


class MethodNotAllowed(KBError):
    """The route exists but not for this HTTP method."""

    status, code, title = 405, "method_not_allowed", "Method not allowed"


class RequestTimeout(KBError):
    """The client did not send its request (headers or body) in the time allowed."""

    status, code, title = 408, "request_timeout", "Request timeout"


class Conflict(KBError):
    """The request conflicts with the current state."""

    status, code, title = 409, "conflict", "Conflict"


class KnowledgeBaseExists(Conflict):
    """A knowledge base with this name already exists."""

    code, title = "kb_exists", "Knowledge base already exists"


class CrawlInProgress(Conflict):
    """The knowledge base already has a queued or running crawl."""

    code, title = "crawl_in_progress", "Crawl in progress"


class CrawlFinished(Conflict):
    """The crawl has already ended, so it cannot be cancelled."""

    code, title = "crawl_finished", "Crawl already finished"


class KeyAlreadyRotated(Conflict):
    """The API key already has a replacement (``replaced_by``): rotate that one instead."""

    code, title = "key_already_rotated", "Key already rotated"


class LimitReached(Conflict):
    """A conversation or user holds as much as one may (messages, conversations, leads):
    ``limit`` names the cap."""

    code, title = "limit_reached", "Limit reached"


class EmbeddingModelMismatch(Conflict):
    """Vectors of one embedding model met an index filled by another (name, weights or size)."""

    code = "embedding_model_mismatch"
    title = "Embedding model mismatch"


class ReindexInProgress(Conflict):
    """The knowledge base is being re-indexed already."""

    code = "reindex_in_progress"
    title = "Re-index in progress"


class PayloadTooLarge(KBError):
    """The upload or request body is over the configured limit."""

    status, code, title = 413, "payload_too_large", "Payload too large"


class StateTooLarge(PayloadTooLarge):
    """A stored free-form object (conversation variables, profile attributes, lead fields) would
    exceed its bound once written: ``max_keys`` keys, ``max_bytes`` bytes of JSON."""

    code, title = "state_too_large", "Stored object too large"


class UnsupportedMediaType(KBError):
    """The content is of a type the engine cannot ingest."""

    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class TooManyRequests(KBError):
    """The key or client address has used up its request allowance for now."""

    status, code, title = 429, "rate_limited", "Too many requests"


class UnprocessableDocument(KBError):
    """The content has a supported type but cannot be turned into text."""

    status, code, title = 422, "unprocessable_document", "Unprocessable document"


class EmptyDocument(UnprocessableDocument):
    """The upload holds no bytes or only whitespace."""

    code, title = "empty_document", "Empty document"


class CorruptDocument(UnprocessableDocument):
    """The file claims a type but cannot be parsed as it."""

    code, title = "corrupt_document", "Corrupt document"


class NoExtractableText(UnprocessableDocument):
    """The file parses but holds no text (for example a scanned PDF without OCR)."""

    code, title = "no_extractable_text", "No extractable text"


class DocumentTooComplex(UnprocessableDocument):
    """Parsing the file overran the time budget for one document (``limit_s``)."""

    code, title = "document_too_complex", "Document too complex"


class OAuthError(KBError):
    """A token request is malformed; the base of the token endpoint's errors.

    Each carries RFC 6749 §5.2's ``error`` (equal to ``code``) and ``error_description`` (equal
    to ``detail``) beside the usual fields, so OAuth client libraries understand it too.
    """

    status, code, title = 400, "invalid_request", "Invalid token request"
    headers = MappingProxyType({"Cache-Control": "no-store"})

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, error=self.code, error_description=detail, **extra)


class OAuthInvalidClient(OAuthError):
    """The client id or secret is missing, unknown, wrong, or the client is revoked."""

    status, code, title = 401, "invalid_client", "Invalid client"
    headers = MappingProxyType(
        {"Cache-Control": "no-store", "WWW-Authenticate": 'Basic realm="kb-engine"'}
    )


class OAuthUnsupportedGrantType(OAuthError):
    """The grant type is not ``client_credentials``."""

    code, title = "unsupported_grant_type", "Unsupported grant type"


class OAuthInvalidScope(OAuthError):
    """The requested scope is unknown or beyond the client's scopes."""

    code, title = "invalid_scope", "Invalid scope"


class ModelUnavailable(KBError):
    """A configured model (embedding or LLM) cannot be loaded."""

    status, code, title = 503, "model_unavailable", "Model unavailable"


class ProviderError(KBError):
    """A remote model provider failed or answered something unusable."""

    status, code, title = 502, "provider_error", "Model provider error"
