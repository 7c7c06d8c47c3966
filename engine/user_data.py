"""A visitor's data-protection rights: everything held about them, exported or erased.

What "about them" means is ``kb.db.erasure``'s: every registry row naming the user id or hanging
off one that does (conversations, messages, citations, events, feedback, leads, profiles), and
the stored webhook event bodies about them. No search index holds conversation text (the lexical
and vector indexes hold document chunks only), so none has anything to erase. An erasure leaves
one audit entry naming no one: the user id appears only as an unsalted SHA-256 prefix, enough
to answer "was this id erased, and when?" for someone who already knows the id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from kb.db.audit import AuditEvent, AuditLog
from kb.db.erasure import checkpoint, erase_user_rows, export_user_rows

ERASE_ACTION = "user.erase"


def user_digest(user_id: str) -> str:
    """What the audit log keeps of an erased user id."""
    return "sha256:" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Erasure:
    """What an erasure deleted, per table."""

    user_digest: str
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        """Rows deleted in all."""
        return sum(self.deleted.values())


class UserDataService:
    """Exports and erases what is held about a user."""

    def __init__(
        self, engine: Engine, audit: AuditLog, after_erase: Callable[[], None] | None = None
    ) -> None:
        self._engine = engine
        self._audit = audit
        # What else holds conversation text in memory forgets it (the analytics' vector cache).
        self._after_erase = after_erase

    def export(self, user_id: str, kb_ids: frozenset[str] | None = None) -> dict[str, Any]:
        """Everything held about ``user_id`` (in ``kb_ids`` only, when given), per table."""
        with self._engine.connect() as connection:
            tables = export_user_rows(connection, user_id, kb_ids)
        return {
            "user_id": user_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "knowledge_bases": sorted(kb_ids) if kb_ids is not None else None,
            "tables": tables,
        }

    def erase(
        self,
        user_id: str,
        kb_ids: frozenset[str] | None = None,
        actor: str = "cli",
        request_id: str | None = None,
        client: str | None = None,
    ) -> Erasure:
        """Delete everything held about ``user_id`` (in ``kb_ids`` only, when given) and
        record it in the audit log without the id."""
        with self._engine.begin() as connection:
            deleted = erase_user_rows(connection, user_id, kb_ids)
        checkpoint(self._engine)  # SQLite: the deleted pages leave the write-ahead log too
        if self._after_erase is not None:
            self._after_erase()
        digest = user_digest(user_id)
        self._audit.record(
            AuditEvent(
                actor=actor,
                action=ERASE_ACTION,
                status=200,
                method="DELETE",
                route="/v1/users/{user_id}",
                target={"user": digest, "rows": str(sum(deleted.values()))},
                request_id=request_id,
                client=client,
            )
        )
        return Erasure(digest, deleted)
