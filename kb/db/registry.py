"""The SQLAlchemy registry of knowledge bases and documents (SQLite by default, or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kb.db.base import (
    UNSET,
    DocumentRow,
    KnowledgeBaseRow,
    Unset,
    new_id,
    now,
    to_document,
    utc,
)
from kb.db.engine import PoolOptions, make_engine
from kb.db.erasure import checkpoint, erase_kb_rows, erase_rows_of_deleted_kbs
from kb.db.migrate import complete, ensure_current, upgrade
from kb.errors import DocumentNotFound, KnowledgeBaseExists, KnowledgeBaseNotFound
from kb.models import Document, KnowledgeBase
from kb.settings import Settings

TagValue = str | int | float | bool


class Registry:
    """Knowledge bases and documents, with the active version of each document."""

    def __init__(
        self, database_url: str, pool: PoolOptions | None = None, migrate: bool | None = None
    ) -> None:
        """Open the database; ``migrate`` upgrades its schema first (None: on SQLite only,
        the embedded default; a server database is upgraded by ``kb migrate``, and one that
        is behind is refused with ``kb.db.migrate.SchemaBehind``)."""
        self._engine = make_engine(database_url, pool)
        if (self._engine.dialect.name == "sqlite") if migrate is None else migrate:
            upgrade(self._engine)
            complete(self._engine)  # what a checkout in development maps beyond the revisions
        else:
            ensure_current(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry on the configured database, its pool sized and its schema upgraded or
        checked (``StorageSettings.migrate_on_start``)."""
        storage = settings.storage
        pool = PoolOptions(
            storage.pool_size,
            storage.pool_max_overflow,
            storage.pool_timeout_s,
            storage.pool_recycle_s,
        )
        return cls(settings.database_url, pool, migrate=storage.migrate_on_start)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for repositories of other tables in the same database."""
        return self._engine

    def close(self) -> None:
        """Release database connections."""
        self._engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- knowledge bases -------------------------------------------------------------------

    def create_kb(
        self,
        name: str,
        description: str = "",
        default_model: str | None = None,
        verification: str | None = None,
    ) -> KnowledgeBase:
        """Create a knowledge base; names are unique."""
        try:
            with self._session() as session:
                row = KnowledgeBaseRow(
                    id=new_id("kb"),
                    name=name,
                    description=description,
                    default_model=default_model,
                    verification=verification,
                )
                session.add(row)
                session.flush()
                return self._to_kb(session, row)
        except IntegrityError as exc:
            raise KnowledgeBaseExists(f"A knowledge base named {name!r} already exists.") from exc

    def list_kbs(
        self, limit: int = 100, offset: int = 0, only: Collection[str] | None = None
    ) -> tuple[list[KnowledgeBase], int]:
        """A page of knowledge bases, oldest first, and the total count (``only`` these ids)."""
        query = select(KnowledgeBaseRow)
        if only is not None:
            query = query.where(KnowledgeBaseRow.id.in_(list(only)))
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(KnowledgeBaseRow.created_at, KnowledgeBaseRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return [self._to_kb(session, row) for row in rows], total

    def get_kb(self, kb_id: str, *, counts: bool = True) -> KnowledgeBase:
        """The knowledge base with this id, or KnowledgeBaseNotFound.

        ``counts=False`` reads its row only, not the sums over its documents: the one cheap
        read a search or a question makes."""
        with self._session() as session:
            return self._to_kb(session, self._kb_row(session, kb_id), counts)

    def find_kb(self, id_or_name: str, *, counts: bool = True) -> KnowledgeBase | None:
        """The knowledge base with this id or, failing that, this name (``counts`` as in
        ``get_kb``)."""
        with self._session() as session:
            row = session.get(KnowledgeBaseRow, id_or_name) or session.scalar(
                select(KnowledgeBaseRow).where(KnowledgeBaseRow.name == id_or_name)
            )
            return self._to_kb(session, row, counts) if row else None

    def update_kb(
        self,
        kb_id: str,
        name: str | None = None,
        description: str | None = None,
        default_model: str | Unset | None = UNSET,
        verification: str | Unset | None = UNSET,
    ) -> KnowledgeBase:
        """Rename or re-describe a knowledge base, or change its model or policy."""
        try:
            with self._session() as session:
                row = self._kb_row(session, kb_id)
                if name is not None:
                    row.name = name
                if description is not None:
                    row.description = description
                if not isinstance(default_model, Unset):
                    row.default_model = default_model
                if not isinstance(verification, Unset):
                    row.verification = verification
                row.updated_at = now()
                session.flush()
                return self._to_kb(session, row)
        except IntegrityError as exc:
            raise KnowledgeBaseExists(f"A knowledge base named {name!r} already exists.") from exc

    def delete_kb(self, kb_id: str) -> dict[str, int]:
        """Delete a knowledge base and every row that belongs to it, in one transaction
        (``kb.db.erasure``); rows deleted per table."""
        with self._session() as session:
            row = self._kb_row(session, kb_id)
            erased = erase_kb_rows(session.connection(), kb_id)
            session.delete(row)
        checkpoint(self._engine)
        return erased

    def erase_rows_of_deleted_kbs(self, dry_run: bool = False) -> dict[str, int]:
        """Delete (``dry_run``: count) rows naming knowledge bases that no longer exist."""
        with self._session() as session:
            erased = erase_rows_of_deleted_kbs(session.connection(), dry_run)
        if erased and not dry_run:
            checkpoint(self._engine)
        return erased

    # -- documents ---------------------------------------------------------------------------

    def get_document(self, kb_id: str, doc_id: str) -> Document:
        """The document with this id in this knowledge base, or DocumentNotFound."""
        with self._session() as session:
            row = session.get(DocumentRow, doc_id)
            if row is None or row.kb_id != kb_id:
                raise DocumentNotFound(f"No document {doc_id!r} in knowledge base {kb_id!r}.")
            return to_document(row)

    def find_documents_by_source(self, kb_id: str, sources: list[str]) -> dict[str, Document]:
        """The documents ingested from these sources, by source (those not found left out)."""
        found: dict[str, Document] = {}
        with self._session() as session:
            for start in range(0, len(sources), 500):
                rows = session.scalars(
                    select(DocumentRow).where(
                        DocumentRow.kb_id == kb_id,
                        DocumentRow.source.in_(sources[start : start + 500]),
                    )
                )
                found.update((row.source, to_document(row)) for row in rows)
        return found

    def find_document_by_source(self, kb_id: str, source: str) -> Document | None:
        """The document ingested from this source, if any."""
        with self._session() as session:
            row = session.scalar(
                select(DocumentRow).where(DocumentRow.kb_id == kb_id, DocumentRow.source == source)
            )
            return to_document(row) if row else None

    def list_documents(
        self, kb_id: str, limit: int = 100, offset: int = 0
    ) -> tuple[list[Document], int]:
        """A page of a knowledge base's documents, oldest first, and the total count."""
        with self._session() as session:
            self._kb_row(session, kb_id)
            where = DocumentRow.kb_id == kb_id
            total = session.scalar(select(func.count()).select_from(DocumentRow).where(where)) or 0
            rows = session.scalars(
                select(DocumentRow)
                .where(where)
                .order_by(DocumentRow.created_at, DocumentRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return [to_document(row) for row in rows], total

    def save_document(self, doc: Document) -> Document:
        """Insert or replace a document record; this switches its active version atomically."""
        return self.save_documents([doc])[0]

    def save_documents(self, docs: list[Document]) -> list[Document]:
        """Insert or replace several document records in one transaction."""
        with self._session() as session:
            for kb_id in {doc.kb_id for doc in docs}:
                self._kb_row(session, kb_id)
            # One query for the rows that exist, not one per document.
            existing = {
                row.id: row
                for row in session.scalars(
                    select(DocumentRow).where(DocumentRow.id.in_([doc.id for doc in docs]))
                )
            }
            saved = []
            for doc in docs:
                row = existing.get(doc.id) or DocumentRow(id=doc.id, created_at=doc.created_at)
                row.kb_id = doc.kb_id
                row.title = doc.title
                row.source = doc.source
                row.media_type = doc.media_type
                row.content_hash = doc.content_hash
                row.size_bytes = doc.size_bytes
                row.chunk_count = doc.chunk_count
                row.status = doc.status
                row.error = doc.error
                row.meta = dict(doc.metadata)
                row.updated_at = now()
                session.add(row)
                saved.append(row)
            session.flush()
            return [to_document(row) for row in saved]

    def delete_document(self, kb_id: str, doc_id: str) -> Document:
        """Delete a document record and return what it was."""
        with self._session() as session:
            row = session.get(DocumentRow, doc_id)
            if row is None or row.kb_id != kb_id:
                raise DocumentNotFound(f"No document {doc_id!r} in knowledge base {kb_id!r}.")
            doc = to_document(row)
            session.delete(row)
            return doc

    def document_ids_matching(
        self, kb_id: str, source_prefixes: Sequence[str], tags: dict[str, TagValue]
    ) -> list[str]:
        """Ids of documents whose source starts with any prefix and whose metadata has every tag."""
        with self._session() as session:
            query = select(DocumentRow.id, DocumentRow.meta).where(DocumentRow.kb_id == kb_id)
            if source_prefixes:
                query = query.where(
                    or_(
                        *(
                            DocumentRow.source.startswith(p, autoescape=True)
                            for p in source_prefixes
                        )
                    )
                )
            rows = session.execute(query).all()
        return [
            doc_id
            for doc_id, meta in rows
            if all((meta or {}).get(key) == value for key, value in tags.items())
        ]

    def active_versions(self, kb_id: str, doc_ids: set[str]) -> dict[str, str]:
        """The content hash of the live version of each given document that still exists."""
        if not doc_ids:
            return {}
        with self._session() as session:
            rows = session.execute(
                select(DocumentRow.id, DocumentRow.content_hash).where(
                    DocumentRow.kb_id == kb_id, DocumentRow.id.in_(doc_ids)
                )
            ).all()
            return {doc_id: content_hash for doc_id, content_hash in rows}

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _kb_row(session: Session, kb_id: str) -> KnowledgeBaseRow:
        row = session.get(KnowledgeBaseRow, kb_id)
        if row is None:
            raise KnowledgeBaseNotFound(f"No knowledge base with id {kb_id!r}.")
        return row

    @staticmethod
    def _to_kb(session: Session, row: KnowledgeBaseRow, counts: bool = True) -> KnowledgeBase:
        kb = KnowledgeBase(
            id=row.id,
            name=row.name,
            description=row.description,
            default_model=row.default_model,
            verification=row.verification,
            created_at=utc(row.created_at),
            updated_at=utc(row.updated_at),
        )
        if not counts:
            return kb
        docs, chunks = session.execute(
            select(
                func.count(DocumentRow.id), func.coalesce(func.sum(DocumentRow.chunk_count), 0)
            ).where(DocumentRow.kb_id == row.id)
        ).one()
        return replace(kb, document_count=int(docs), chunk_count=int(chunks))
