"""User profiles, one per user of each knowledge base (same database as the registry).

A profile belongs to a knowledge base: ``(kb_id, user_id)`` is its key, so a key restricted to
some knowledge bases reaches only their users' profiles, a profile written through one tenant's
knowledge base never reaches another's prompt, and deleting a knowledge base erases its
profiles (``kb.db.erasure``).

Profiles stored before they were scoped (keyed by user id alone) are attached at start-up to
the one knowledge base the user had conversations in. A profile whose user talked to several
knowledge bases, or none, cannot be attributed (any tenant's key may have written it): it is
left in ``user_profiles_legacy``, read by nothing, for the operator to re-save or drop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base
from kb.db.bounds import check_state

log = logging.getLogger(__name__)
LEGACY_TABLE = "user_profiles_legacy"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class UserProfile:
    """Attributes of a user of one knowledge base that its bot may use."""

    kb_id: str
    user_id: str
    name: str | None = None
    language: str | None = None
    plan: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def tells_the_model(self) -> bool:
        """Whether it holds anything the answering model is told (name, language, plan)."""
        return bool(self.name or self.language or self.plan)


class UserProfileRow(Base):
    __tablename__ = "user_profiles"

    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    plan: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# The user's conversations all in one knowledge base: the only one their profile was used in.
_ATTACH = f"""
INSERT INTO user_profiles (kb_id, user_id, name, language, plan, attributes, updated_at)
SELECT c.kb_id, p.user_id, p.name, p.language, p.plan, p.attributes, p.updated_at
FROM {LEGACY_TABLE} AS p
JOIN (SELECT user_id, MIN(kb_id) AS kb_id FROM conversations GROUP BY user_id
      HAVING COUNT(DISTINCT kb_id) = 1) AS c ON c.user_id = p.user_id
"""


def scope_legacy_profiles(engine: Engine) -> None:
    """Move profiles keyed by user id alone to their knowledge base (module docstring)."""
    inspector = inspect(engine)
    tables = inspector.get_table_names()
    if "user_profiles" not in tables:
        return
    if "kb_id" in {column["name"] for column in inspector.get_columns("user_profiles")}:
        return
    with engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE user_profiles RENAME TO {LEGACY_TABLE}"))
        UserProfileRow.__table__.create(connection)  # type: ignore[attr-defined]
        if "conversations" in tables:
            connection.execute(text(_ATTACH))
        connection.execute(
            text(f"DELETE FROM {LEGACY_TABLE} WHERE user_id IN (SELECT user_id FROM user_profiles)")
        )
        left = connection.execute(text(f"SELECT COUNT(*) FROM {LEGACY_TABLE}")).scalar() or 0
        if not left:
            connection.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
    if left:
        log.warning(
            "%d user profiles could not be attributed to one knowledge base and are no longer "
            "used; they are kept in the %s table",
            left,
            LEGACY_TABLE,
        )


class ProfileRepository:
    """Stores user profiles per knowledge base."""

    def __init__(self, engine: Engine) -> None:
        scope_legacy_profiles(engine)
        Base.metadata.create_all(engine, tables=[UserProfileRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def get(self, kb_id: str, user_id: str) -> UserProfile:
        """The user's profile in ``kb_id``; an empty one when none was saved."""
        with self._session() as session:
            row = session.get(UserProfileRow, (kb_id, user_id))
            return _to_profile(row) if row else UserProfile(kb_id=kb_id, user_id=user_id)

    def put(self, profile: UserProfile) -> UserProfile:
        """Create or replace the user's profile in its knowledge base (StateTooLarge when the
        attributes are over the bound)."""
        attributes = check_state(dict(profile.attributes), "The profile's attributes")
        with self._session() as session:
            key = (profile.kb_id, profile.user_id)
            row = session.get(UserProfileRow, key) or UserProfileRow(
                kb_id=profile.kb_id, user_id=profile.user_id
            )
            row.name, row.language, row.plan = profile.name, profile.language, profile.plan
            row.attributes = attributes
            row.updated_at = _now()
            session.add(row)
            session.flush()
            return _to_profile(row)


def _to_profile(row: UserProfileRow) -> UserProfile:
    updated = row.updated_at
    return UserProfile(
        kb_id=row.kb_id,
        user_id=row.user_id,
        name=row.name,
        language=row.language,
        plan=row.plan,
        attributes=dict(row.attributes or {}),
        updated_at=updated if updated is None or updated.tzinfo else updated.replace(tzinfo=UTC),
    )
