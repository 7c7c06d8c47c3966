"""Console pages of the platform (unrestricted admin keys, as over the API): model-provider
keys (stored encrypted, never shown again) and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.console.pages import render
from api.console.providers import check_connection
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, AdminDep
from api.deps import AuditDep, ContainerDep
from api.routes.providers import list_providers
from api.schemas.providers import ProviderCredentialIn
from kb.errors import ValidationFailed

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
AUDIT_PAGE = 50


@router.get("/providers")
def providers_page(request: Request, caller: AdminDep, container: ContainerDep) -> Response:
    """Every provider: configured or not, from where, the stored key's last characters."""
    return render(
        request,
        "providers.html",
        {
            "providers": list_providers(container),
            "default_model": container.settings.llm.default_model,
            "check": None,
        },
    )


@router.post("/providers/{provider}")
def set_provider(
    provider: str,
    caller: AdminDep,
    container: ContainerDep,
    api_key: Annotated[str, Form(max_length=512)],
    base_url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Store the provider's key (encrypted), as PUT /v1/providers/{provider}."""
    try:
        body = ProviderCredentialIn(api_key=api_key.strip(), base_url=base_url.strip() or None)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationFailed(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    container.credentials.put(provider, body.api_key, body.base_url)
    return RedirectResponse(f"{PREFIX}/providers?saved=1", status_code=303)


@router.post("/providers/{provider}/test")
def test_provider(
    request: Request, provider: str, caller: AdminDep, container: ContainerDep
) -> Response:
    """Send the provider one tiny request and say how it went."""
    container.credentials.check_provider(provider)  # ProviderNotFound for an unknown name
    check = check_connection(container.models, provider)
    return render(
        request,
        "providers.html",
        {
            "providers": list_providers(container),
            "default_model": container.settings.llm.default_model,
            "check": check,
        },
        status=200 if check.ok else 502,
    )


@router.post("/providers/{provider}/delete")
def delete_provider(provider: str, caller: AdminDep, container: ContainerDep) -> Response:
    """Forget the stored key; the environment's applies again."""
    container.credentials.delete(provider)
    return RedirectResponse(f"{PREFIX}/providers?deleted=1", status_code=303)


@router.get("/audit")
def audit_page(
    request: Request,
    caller: AdminDep,
    audit: AuditDep,
    actor: Annotated[str, Query(max_length=200)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Recorded administrative actions, newest first, filtered by actor and action."""
    items, total = audit.list(
        AUDIT_PAGE, (page - 1) * AUDIT_PAGE, actor.strip() or None, action.strip() or None
    )
    return render(
        request,
        "audit.html",
        {
            "items": items,
            "total": total,
            "actor": actor,
            "action": action,
            "query": f"actor={actor}&action={action}&",
            "page": page,
            "pages": max(1, -(-total // AUDIT_PAGE)),
        },
    )
