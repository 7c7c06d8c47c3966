"""Export a sentence-transformers model once to int8 ONNX for this CPU, cached beside the model.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose only release pins
``transformers<4.58`` while sentence-transformers 6 needs ``transformers>=5``; so the export is
done here with the steps optimum would take (export, graph optimisation, dynamic
quantisation) using torch.onnx and ONNX Runtime's own tools directly
(``kb.embeddings.onnx.recipe``; its constants in ``kb.embeddings.onnx.format``).

This module finds, checks and caches exports; the export itself lives in
``kb.embeddings.onnx.recipe``, imported only when an export must be built: loading a cached one
imports neither torch nor ONNX Runtime's tools (a server without torch loaded runs in ~210 MB
less memory).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

from kb.embeddings.base import sha256_file
from kb.embeddings.onnx.format import EXPORT_FORMAT, META_FILE, MODEL_FILE

logger = logging.getLogger(__name__)


def cpu_isa(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The widest integer instruction set of this CPU that int8 kernels use."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return "generic"
    flag_lines = [line for line in text.splitlines() if line.startswith("flags")]
    flags = set(flag_lines[0].partition(":")[2].split()) if flag_lines else set()
    for isa, flag in [
        ("avx512_vnni", "avx512_vnni"),
        ("avx_vnni", "avx_vnni"),  # VNNI on 256-bit registers (Alder Lake and later)
        ("avx512", "avx512bw"),
        ("avx2", "avx2"),
    ]:
        if flag in flags:
            return isa
    return "generic"


def source_fingerprint(model_path: str) -> str:
    """Identity of the source model: changes when any of its files is replaced."""
    root = Path(model_path)
    if not root.is_dir():
        return model_path  # a hub name: its files are managed by huggingface_hub
    entries = sorted(
        f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in root.rglob("*")
        if p.is_file()
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def export_dir_for(model_path: str, cache_dir: Path, isa: str) -> Path:
    """Where the int8 export of ``model_path`` for ``isa`` lives."""
    # Resolved, so relative and absolute spellings of one directory share one export.
    key = str(Path(model_path).resolve()) if Path(model_path).is_dir() else model_path
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_dir / f"{Path(model_path).name or 'model'}-{digest}.onnx-int8-{isa}"


def is_complete(export_dir: Path, fingerprint: str) -> bool:
    """Whether ``export_dir`` holds a finished export of the current source and recipe."""
    try:
        meta = json.loads((export_dir / META_FILE).read_text())
        return bool(
            meta["format"] == EXPORT_FORMAT
            and meta["source"] == fingerprint
            and sha256_file(export_dir / MODEL_FILE) == meta["sha256"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_int8_export(model_path: str, cache_dir: Path) -> Path:
    """The directory of the int8 ONNX export of ``model_path``, exporting it on first use."""
    isa = cpu_isa()
    target = export_dir_for(model_path, cache_dir, isa)
    fingerprint = source_fingerprint(model_path)
    if is_complete(target, fingerprint):
        return target
    if target.exists():
        logger.warning("Rebuilding the stale or incomplete ONNX export at %s", target)
        shutil.rmtree(target, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place, so a crash or a concurrent reader never sees half a model.
    staging = Path(tempfile.mkdtemp(prefix=".onnx-export-", dir=cache_dir))
    try:
        from kb.embeddings.onnx.recipe import (
            export,  # torch and ONNX Runtime's tools: only to export
        )

        export(model_path, staging, isa, fingerprint)
        try:
            staging.rename(target)
        except OSError:
            if not is_complete(target, fingerprint):  # lost a race to another process
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
