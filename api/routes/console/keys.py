"""Console page of API keys (unrestricted admin keys only, as over the API): create secret or
publishable keys, the secret shown once with the widget snippet, revoke, rotate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, AdminDep, own_origin
from api.deps import CatalogDep, ContainerDep, GrantsDep, KeysDep
from api.routes.console.widget import snippet
from kb.access.models import SCOPES, IssuedKey
from kb.errors import InvalidInput

router = APIRouter(prefix=f"{PREFIX}/keys", route_class=ConsoleRoute, include_in_schema=False)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


@router.get("")
def keys_page(request: Request, caller: AdminDep, keys: KeysDep, catalog: CatalogDep) -> Response:
    """Every key (never a secret) and the form to create one."""
    kbs, _total = catalog.list_kbs(1000, 0)
    names = {kb.id: kb.name for kb in kbs}
    return render(
        request,
        "keys.html",
        {"keys": keys.list(), "kbs": kbs, "names": names, "scopes": SCOPES},
    )


def _issued(request: Request, issued: IssuedKey, catalog: CatalogDep) -> Response:
    """The page showing a new secret: the only time it is ever shown."""
    key = issued.key
    kb_name = ""
    if key.kb_ids and len(key.kb_ids) == 1:
        found = catalog.resolve_kb(key.kb_ids[0])
        kb_name = found.name if found else ""
    response = render(
        request,
        "key_issued.html",
        {
            "issued": key,
            "secret": issued.secret,
            "kb_name": kb_name,
            "snippet": snippet(own_origin(request), issued.secret)
            if key.kind == "publishable"
            else "",
        },
        status=201,
    )
    return response


@router.post("")
def create_key(
    request: Request,
    caller: AdminDep,
    grants: GrantsDep,
    catalog: CatalogDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(pattern="^(secret|publishable)$")] = "secret",
    scopes: Annotated[list[str] | None, Form()] = None,
    kb_ids: Annotated[list[str] | None, Form()] = None,
    allowed_origins: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Create a key through the same grants as POST /v1/keys."""
    chosen = [kb for kb in kb_ids or [] if kb]
    if kind == "publishable":
        issued = grants.create_key(
            ["chat"], chosen or None, name, "publishable", _lines(allowed_origins)
        )
    else:
        if not scopes:
            raise InvalidInput("Choose at least one scope for the key.")
        issued = grants.create_key(scopes, chosen or None, name)
    return _issued(request, issued, catalog)


@router.post("/{prefix}/revoke")
def revoke(prefix: str, caller: AdminDep, container: ContainerDep) -> Response:
    """Revoke the key at once; its console sessions end with it."""
    container.keys.revoke(prefix)
    container.sessions.close_for_key(prefix)
    return RedirectResponse(f"{PREFIX}/keys?revoked={prefix}", status_code=303)


@router.post("/{prefix}/rotate")
def rotate(
    request: Request, prefix: str, caller: AdminDep, keys: KeysDep, catalog: CatalogDep
) -> Response:
    """Issue a replacement; the old key keeps working for the grace period."""
    return _issued(request, keys.rotate(prefix), catalog)
