"""Raw sources handed to the ingestion pipeline, and reading them from disk."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.parsers.registry import SUPPORTED_SUFFIXES
from kb.models import clean_label


@dataclass(frozen=True)
class RawSource:
    """Bytes to ingest, where they came from, and what the uploader said about them."""

    data: bytes
    source: str
    filename: str | None = None
    title: str | None = None
    declared_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Cleaned here, not only in the stored Document: the source is also the key a later
        # upload of the same source is found by, so both must be spelled alike.
        for name in ("source", "filename", "title"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, clean_label(value))


def safe_filename(name: str | None) -> str | None:
    """The last path component of an uploaded name, stripped of control characters.

    Uploaded names are only ever labels: they never become paths on this machine.
    """
    if not name:
        return None
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in {"", ".", ".."}:
        return None
    return name[:255]


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Files under the given paths (directories recurse), supported suffixes only, sorted."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"No such file or directory: {path}")
