"""Console pages of knowledge bases: the list, creating one, its settings, deleting it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import unrestricted
from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, KbAccessDep, ReaderDep, WriterDep
from api.deps import CatalogDep, ContainerDep
from kb.errors import InvalidInput

router = APIRouter(prefix=f"{PREFIX}/kbs", route_class=ConsoleRoute, include_in_schema=False)
Verification = Literal["", "drop", "flag", "off"]
PAGE_SIZE = 50


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


@router.get("")
def list_page(
    request: Request, caller: ReaderDep, catalog: CatalogDep, container: ContainerDep, page: int = 1
) -> Response:
    """The knowledge bases this key may reach, and a form to create one."""
    reachable = None if caller.key is None or caller.key.kb_ids is None else caller.key.kb_ids
    page = max(page, 1)
    items, total = catalog.list_kbs(PAGE_SIZE, (page - 1) * PAGE_SIZE, reachable)
    may_create = caller.may("kb:write") and (caller.key is None or caller.key.kb_ids is None)
    return render(
        request,
        "kbs.html",
        {
            "items": items,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "may_create": may_create,
            "providers": container.models.providers,
        },
    )


@router.post("")
def create(
    request: Request,
    caller: WriterDep,
    catalog: CatalogDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    default_model: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a knowledge base (unrestricted keys only, as over the API)."""
    unrestricted(caller.key)
    kb = catalog.create_kb(name, description, default_model.strip() or None)
    return _see_other(f"{PREFIX}/kbs/{kb.id}/documents")


@router.get("/{kb_id}")
def overview(kb_id: str, caller: KbAccessDep) -> Response:
    """A knowledge base opens on its documents."""
    return _see_other(f"{PREFIX}/kbs/{kb_id}/documents")


@router.get("/{kb_id}/settings")
def settings_page(
    request: Request, kb_id: str, caller: KbAccessDep, catalog: CatalogDep, container: ContainerDep
) -> Response:
    """Rename, describe, choose the answering model and verification; delete."""
    kb = catalog.get_kb(kb_id)
    return render(
        request,
        "kb_settings.html",
        {
            "kb": kb,
            "tab": "settings",
            "index": catalog.index_of(kb.id),
            "providers": container.models.providers,
        },
    )


@router.post("/{kb_id}/settings")
def update(
    kb_id: str,
    caller: KbAccessDep,
    catalog: CatalogDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    default_model: Annotated[str, Form(max_length=200)] = "",
    verification: Annotated[Verification, Form()] = "",
) -> Response:
    """Save the settings form (an empty model or policy: the server's default)."""
    model = default_model.strip() or None
    catalog.update_kb(kb_id, name, description, model, verification or None)
    return _see_other(f"{PREFIX}/kbs/{kb_id}/settings?saved=1")


@router.post("/{kb_id}/delete")
def delete(
    kb_id: str,
    caller: KbAccessDep,
    catalog: CatalogDep,
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Delete the knowledge base once its name has been typed to confirm."""
    kb = catalog.get_kb(kb_id)
    if confirm.strip() != kb.name:
        raise InvalidInput(
            "To delete this knowledge base, type its name exactly as shown; nothing was deleted."
        )
    catalog.delete_kb(kb.id)
    return _see_other(f"{PREFIX}/kbs?deleted=1")
