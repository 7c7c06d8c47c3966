"""OAuth 2.0 client credentials: client management (admin scope) and the open token endpoint."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response, status

from api.auth import limit_address
from api.deps import GrantsDep, OAuthDep
from api.schemas.keys import IssuedClientOut, OAuthClientCreate, OAuthClientOut, TokenOut
from kb.access.oauth import OAuthClient, OAuthService
from kb.errors import OAuthError, OAuthInvalidClient, OAuthUnsupportedGrantType

router = APIRouter(prefix="/v1/oauth/clients", tags=["oauth"])
# Open: the client authenticates itself with its id and secret.
token_router = APIRouter(tags=["oauth"])
GRANT_TYPE = "client_credentials"

FormField = Annotated[str | None, Form()]


@router.post("", response_model=IssuedClientOut, status_code=status.HTTP_201_CREATED)
def create_client(body: OAuthClientCreate, grants: GrantsDep) -> IssuedClientOut:
    """Create a client; its secret is in this response only."""
    return IssuedClientOut.issued(grants.create_client(list(body.scopes), body.kb_ids, body.name))


@router.get("", response_model=list[OAuthClientOut])
def list_clients(oauth: OAuthDep) -> list[OAuthClientOut]:
    """Every client, newest first, without secrets."""
    return [OAuthClientOut.of(c) for c in oauth.clients.list()]


@router.delete("/{client_id}", response_model=OAuthClientOut)
def revoke_client(client_id: str, oauth: OAuthDep) -> OAuthClientOut:
    """Revoke a client: its tokens stop working at once."""
    return OAuthClientOut.of(oauth.clients.revoke(client_id))


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthInvalidClient("The Basic credentials are not valid base64.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthInvalidClient("The Basic credentials must be client_id:client_secret.")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def _client(
    request: Request, oauth: OAuthService, client_id: str | None, secret: str | None
) -> OAuthClient:
    basic = _basic_credentials(request)
    if basic is not None and (client_id is not None or secret is not None):
        raise OAuthError("Authenticate the client one way: HTTP Basic or form fields, not both.")
    found_id, found_secret = basic or (client_id, secret)
    if not found_id or not found_secret:
        raise OAuthInvalidClient(
            "Authenticate the client with HTTP Basic (client_id:client_secret) or the "
            "client_id and client_secret form fields."
        )
    client = oauth.clients.authenticate(found_id, found_secret)
    if client is None:
        raise OAuthInvalidClient("The client is unknown, revoked, or the secret is wrong.")
    return client


@token_router.post(
    "/oauth/token",
    response_model=TokenOut,
    responses={
        400: {"description": "invalid_request, unsupported_grant_type, invalid_scope"},
        401: {"description": "invalid_client"},
    },
)
def issue_token(
    request: Request,
    response: Response,
    oauth: OAuthDep,
    grant_type: FormField = None,
    scope: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
) -> TokenOut:
    """Exchange client credentials for a short-lived access token (form-encoded,
    ``grant_type=client_credentials``, optional ``scope`` narrowing the client's scopes)."""
    limit_address(request)  # bounds secret guessing
    if not grant_type:
        raise OAuthError("grant_type is required (client_credentials).")
    if grant_type != GRANT_TYPE:
        raise OAuthUnsupportedGrantType(f"Only {GRANT_TYPE} is supported, not {grant_type!r}.")
    client = _client(request, oauth, client_id, client_secret)
    token = oauth.issue(client, scope)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenOut.of(token)
