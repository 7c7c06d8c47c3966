"""What an index of chunks holds, per knowledge base: what ``kb.reconcile`` checks against the
registry after a crash, and how it removes what no live version owns."""

from __future__ import annotations

from typing import Protocol


class ChunkInventory(Protocol):
    """An index of chunks per knowledge base that can be listed and pruned."""

    def kb_ids(self) -> set[str]:
        """The knowledge bases that have an index here."""

    def versions(self, kb_id: str) -> dict[tuple[str, str], int]:
        """How many chunks each (document, version) has in a knowledge base's index."""

    def count(self, kb_id: str) -> int:
        """How many chunks a knowledge base's index holds, all versions."""

    def delete_version(self, kb_id: str, document_id: str, version: str) -> None:
        """Remove one version of a document's chunks."""

    def drop(self, kb_id: str) -> None:
        """Remove everything stored for a knowledge base."""

    def remove_stray_files(self, dry_run: bool = False) -> int:
        """Remove (``dry_run``: count) files left by knowledge bases deleted earlier."""
