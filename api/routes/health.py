"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(container: ContainerDep) -> dict[str, object]:
    """The registry answers and the embedding model is loaded (loading it if needed)."""
    embedding_model = await run_in_threadpool(container.check_ready)
    return {"status": "ready", "embedding_model": embedding_model}
