"""A visitor's data-protection rights: export and erase everything held about a user (admin
scope; a key restricted to some knowledge bases reaches their users' data only)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import UserDataDep, UserIdPath, UserScopeDep
from api.middleware.request_context import caller_prefix, client_address
from api.schemas.analytics import ErasureOut, UserExportOut
from kb.db.audit import ANONYMOUS_ACTOR

# Guarded by `admin` in create_app. The audit middleware leaves /v1/users/ routes out (their
# path holds the user id); the erasure writes its own entry, naming the user by a hash only.
router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("/{user_id}/export", response_model=UserExportOut)
def export_user(
    user_id: UserIdPath,
    data: UserDataDep,
    scope: UserScopeDep,
) -> UserExportOut:
    """Everything held about the user: profile, conversations, messages, feedback, leads,
    events and the webhook deliveries about them, per table."""
    return UserExportOut.model_validate(data.export(user_id, scope))


@router.delete("/{user_id}", response_model=ErasureOut)
def erase_user(
    user_id: UserIdPath,
    data: UserDataDep,
    scope: UserScopeDep,
    request: Request,
) -> ErasureOut:
    """Erase everything held about the user (what the export returns); the audit log keeps
    an entry naming the user by a hash only."""
    erasure = data.erase(
        user_id,
        scope,
        actor=caller_prefix(request.scope) or ANONYMOUS_ACTOR,
        request_id=getattr(request.state, "request_id", None),
        client=client_address(request.scope),
    )
    return ErasureOut.of(erasure)
