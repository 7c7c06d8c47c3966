"""Console page of OAuth clients (unrestricted admin keys, as over the API): create one (the
secret shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, AdminDep
from api.deps import CatalogDep, GrantsDep, OAuthDep
from kb.access.models import SCOPES
from kb.errors import InvalidInput

router = APIRouter(
    prefix=f"{PREFIX}/oauth-clients", route_class=ConsoleRoute, include_in_schema=False
)


@router.get("")
def clients_page(
    request: Request, caller: AdminDep, oauth: OAuthDep, catalog: CatalogDep
) -> Response:
    """Every client (never a secret) and the form to create one."""
    kbs, _total = catalog.list_kbs(1000, 0)
    return render(
        request,
        "oauth_clients.html",
        {
            "clients": oauth.clients.list(),
            "kbs": kbs,
            "names": {kb.id: kb.name for kb in kbs},
            "scopes": SCOPES,
        },
    )


@router.post("")
def create_client(
    request: Request,
    caller: AdminDep,
    grants: GrantsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    kb_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create a client through the same grants as POST /v1/oauth/clients."""
    if not scopes:
        raise InvalidInput("Choose at least one scope for the client.")
    issued = grants.create_client(scopes, [k for k in kb_ids or [] if k] or None, name)
    return render(
        request,
        "oauth_client_created.html",
        {"client": issued.client, "secret": issued.secret, "origin": request.base_url},
        status=201,
    )


@router.post("/{client_id}/revoke")
def revoke(client_id: str, caller: AdminDep, oauth: OAuthDep) -> Response:
    """Revoke the client: its tokens stop working at once."""
    oauth.clients.revoke(client_id)
    return RedirectResponse(f"{PREFIX}/oauth-clients?client_revoked=1", status_code=303)
