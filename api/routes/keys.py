"""API-key routes: create (secret or publishable), list, revoke and rotate (admin scope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, status

from api.deps import GrantsDep, KeysDep
from api.schemas.keys import IssuedKeyOut, KeyCreate, KeyOut, KeyRotate

router = APIRouter(prefix="/v1/keys", tags=["api keys"])


@router.post("", response_model=IssuedKeyOut, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, grants: GrantsDep) -> IssuedKeyOut:
    """Create a key; its secret is in this response only."""
    issued = grants.create_key(
        body.scope_list(), body.kb_ids, body.name, body.kind, body.allowed_origins
    )
    return IssuedKeyOut.issued(issued)


@router.get("", response_model=list[KeyOut])
def list_keys(keys: KeysDep) -> list[KeyOut]:
    """Every key, newest first, without secrets."""
    return [KeyOut.of(k) for k in keys.list()]


@router.delete("/{prefix}", response_model=KeyOut)
def revoke_key(prefix: str, keys: KeysDep) -> KeyOut:
    """Revoke a key at once."""
    return KeyOut.of(keys.revoke(prefix))


@router.post("/{prefix}/rotate", response_model=IssuedKeyOut, status_code=status.HTTP_201_CREATED)
def rotate_key(
    prefix: str, keys: KeysDep, body: Annotated[KeyRotate | None, Body()] = None
) -> IssuedKeyOut:
    """Issue a replacement key; the old one keeps working for the grace period."""
    grace = body.grace_period_s if body else None
    return IssuedKeyOut.issued(
        keys.rotate(prefix, None if grace is None else timedelta(seconds=grace))
    )
