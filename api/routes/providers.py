"""Model-provider credentials: set, list and delete (admin scope, unrestricted keys).

A stored key wins over the environment's and is used from the next question on: the model
registry rebuilds a provider's client when its stored credential changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from api.deps import ContainerDep, get_container
from api.schemas.providers import ProviderCredentialIn, ProviderOut
from kb.access.credentials import CredentialRepository

router = APIRouter(prefix="/v1/providers", tags=["providers"])


def _credentials(request: Request) -> CredentialRepository:
    return get_container(request).credentials


CredentialsDep = Annotated[CredentialRepository, Depends(_credentials)]


@router.get("", response_model=list[ProviderOut])
def list_providers(container: ContainerDep) -> list[ProviderOut]:
    """Every provider: configured or not, from where, and the stored key's hint; never a key."""
    stored = container.credentials.list()
    out = []
    for provider in container.credentials.providers:
        if provider in stored:
            out.append(ProviderOut.stored(stored[provider]))
        else:
            configured, base_url = container.models.environment_credential(provider)
            out.append(ProviderOut.environment(provider, configured, base_url))
    return out


@router.put("/{provider}", response_model=ProviderOut)
def put_provider(
    provider: str, body: ProviderCredentialIn, credentials: CredentialsDep
) -> ProviderOut:
    """Store the provider's key (encrypted) and optional base URL, replacing any stored one."""
    return ProviderOut.stored(credentials.put(provider, body.api_key, body.base_url))


@router.delete("/{provider}", status_code=status.HTTP_204_NO_CONTENT)
def delete_provider(provider: str, credentials: CredentialsDep) -> Response:
    """Forget the stored credential; the environment's applies again (idempotent)."""
    credentials.delete(provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
