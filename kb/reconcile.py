"""Crash recovery: the chunk indexes brought back in line with the registry.

Ingestion writes a new version's chunks to the vector store and the lexical index, switches the
registry to that version, and only then removes the old version's chunks
(``ingest.pipeline.service``). A process killed between two of those steps leaves chunks that no
live version owns: the new version's when it died before the switch, the old one's after it. A
deletion killed half-way leaves a whole index of a knowledge base that no longer exists.
Retrieval never serves such chunks, but they take candidate slots from live ones and nothing
else removes them. ``Reconciler`` does, at every start of the service and in ``kb doctor``:

- chunks of a version that is not its document's active one (``inactive_version``);
- chunks of a document the registry does not have (``unknown_document``);
- every chunk of a knowledge base the registry does not have (``unknown_kb``);
- rows naming a deleted knowledge base (``kb.db.erasure``), and embedded Chroma's segment
  folders no collection uses any more (``kb.index.chroma_files``).

It must not run beside ingestion into the same data directory from another process: a version
being written looks exactly like one that was abandoned. In the service it takes each knowledge
base's write lock; ``kb doctor`` is for a stopped service (which runs it at start anyway).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal

from kb.db.registry import Registry
from kb.errors import KnowledgeBaseNotFound
from kb.index.inventory import ChunkInventory
from kb.models import content_version

log = logging.getLogger(__name__)

Reason = Literal["inactive_version", "unknown_document", "unknown_kb"]


@dataclass(frozen=True)
class Repair:
    """Chunks removed (or, in a dry run, to remove) from one index, and why.

    ``document_id`` and ``version`` are None for a whole knowledge base's index."""

    index: str
    kb_id: str
    document_id: str | None
    version: str | None
    chunks: int
    reason: Reason


@dataclass(frozen=True)
class Reconciliation:
    """What a run fixed, or would fix with ``dry_run``."""

    dry_run: bool
    repairs: tuple[Repair, ...] = ()
    # Rows of deleted knowledge bases, per table.
    rows: Mapping[str, int] = field(default_factory=dict)
    # Files of knowledge bases deleted earlier (embedded Chroma's segment folders).
    stray_files: int = 0

    @property
    def clean(self) -> bool:
        """Whether there was nothing to fix."""
        return not self.repairs and not self.rows and not self.stray_files

    def chunks(self, index: str | None = None) -> int:
        """Chunks removed, from one index or all of them."""
        return sum(r.chunks for r in self.repairs if index is None or r.index == index)

    def summary(self) -> str:
        """One line for a log or a terminal."""
        if self.clean:
            return "nothing to fix"
        verb = "would remove" if self.dry_run else "removed"
        parts = []
        for index in dict.fromkeys(r.index for r in self.repairs):
            reasons: dict[str, int] = {}
            for r in self.repairs:
                if r.index == index:
                    reasons[r.reason] = reasons.get(r.reason, 0) + r.chunks
            detail = ", ".join(f"{n} {reason}" for reason, n in reasons.items())
            parts.append(f"{self.chunks(index)} {index} chunks ({detail})")
        if self.rows:
            detail = ", ".join(f"{n} {table}" for table, n in sorted(self.rows.items()))
            parts.append(f"{sum(self.rows.values())} rows of deleted knowledge bases ({detail})")
        if self.stray_files:
            parts.append(f"{self.stray_files} stray files of deleted knowledge bases")
        return f"{verb} " + "; ".join(parts)


Lock = Callable[[str], AbstractContextManager[object]]


class Reconciler:
    """Removes what no live document version owns from the indexes (see the module)."""

    def __init__(
        self,
        registry: Registry,
        indexes: Mapping[str, ChunkInventory],
        lock: Lock | None = None,
    ) -> None:
        self._registry = registry
        self._indexes = indexes
        # The knowledge base's write lock, so a version being written is never taken for an
        # abandoned one (ingestion takes the same lock).
        self._lock = lock or (lambda _kb_id: contextlib.nullcontext())

    def run(self, dry_run: bool = False, quick: bool = False) -> Reconciliation:
        """Check every index of every knowledge base and fix (``dry_run``: only report) it.

        ``quick`` takes an index whose chunk count is the registry's as consistent, without
        reading its chunk ids: each interruption above leaves more chunks than the registry
        counts. What the service does at start."""
        present = {name: index.kb_ids() for name, index in self._indexes.items()}
        repairs: list[Repair] = []
        for kb_id in sorted(set().union(*present.values())):
            indexes = {n: i for n, i in self._indexes.items() if kb_id in present[n]}
            with self._lock(kb_id):
                repairs += self._reconcile_kb(kb_id, indexes, dry_run, quick)
        return Reconciliation(
            dry_run=dry_run,
            repairs=tuple(repairs),
            rows=self._registry.erase_rows_of_deleted_kbs(dry_run),
            stray_files=sum(i.remove_stray_files(dry_run) for i in self._indexes.values()),
        )

    def at_start(self) -> Reconciliation | None:
        """``run(quick=True)``, logged; a failure is logged, not raised: the service starts
        anyway, and serves only live chunks as always."""
        try:
            done = self.run(quick=True)
        except Exception:
            log.exception("reconciling the indexes with the registry failed")
            return None
        log.log(logging.INFO if done.clean else logging.WARNING, "reconciled: %s", done.summary())
        return done

    def _reconcile_kb(
        self, kb_id: str, indexes: Mapping[str, ChunkInventory], dry_run: bool, quick: bool
    ) -> list[Repair]:
        """Fix the indexes of one knowledge base (the ones that have it)."""
        try:
            expected = self._registry.get_kb(kb_id, counts=quick).chunk_count
        except KnowledgeBaseNotFound:
            return self._drop_kb(kb_id, indexes, dry_run)
        repairs: list[Repair] = []
        for name, index in indexes.items():
            if quick and index.count(kb_id) == expected:
                continue
            versions = index.versions(kb_id)
            live = self._registry.active_versions(kb_id, {doc for doc, _ in versions})
            for (doc, version), chunks in sorted(versions.items()):
                if doc in live and content_version(live[doc]) == version:
                    continue
                reason: Reason = "inactive_version" if doc in live else "unknown_document"
                repairs.append(Repair(name, kb_id, doc, version, chunks, reason))
                if not dry_run:
                    index.delete_version(kb_id, doc, version)
        return repairs

    def _drop_kb(
        self, kb_id: str, indexes: Mapping[str, ChunkInventory], dry_run: bool
    ) -> list[Repair]:
        repairs = []
        for name, index in indexes.items():
            repairs.append(Repair(name, kb_id, None, None, index.count(kb_id), "unknown_kb"))
            if not dry_run:
                index.drop(kb_id)
        return repairs
