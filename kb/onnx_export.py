"""Export a sentence-transformers model once to int8 ONNX for this CPU, cached beside the model.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose only release pins
``transformers<4.58`` while sentence-transformers 6 needs ``transformers>=5``; so the export is
done here with the steps optimum would take (export, graph optimisation, dynamic
quantisation) using torch.onnx and ONNX Runtime's own tools directly (``kb.onnx_recipe``).

This module finds, checks and caches exports; the export itself lives in ``kb.onnx_recipe``,
imported only when an export must be built: loading a cached one imports neither torch nor
ONNX Runtime's tools (a server without torch loaded runs in ~210 MB less memory).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

from kb.embeddings import sha256_file

logger = logging.getLogger(__name__)

# Bump when the recipe below changes: caches of an older format are rebuilt.
EXPORT_FORMAT = 5
MODEL_FILE = "model.onnx"
META_FILE = "kb_export.json"  # written last: its presence and hash mark a complete export
# u8s8 products on AVX2/AVX-512 without VNNI go through VPMADDUBSW, which saturates at int16;
# ONNX Runtime recommends 7-bit weights (reduce_range) there. VNNI accumulates in int32.
REDUCE_RANGE = {
    "avx512_vnni": False,
    "avx_vnni": False,
    "avx512": True,
    "avx2": True,
    "generic": False,
}
# Per-channel weight scales keep cosine to fp32 at ~0.99; per-tensor ones (sentence-transformers'
# default) only at ~0.96. Quantising the fused Attention too is ~15% faster at the same quality;
# Gather (the embedding table) only exists when the graph was not fused.
QUANTIZED_OPS = ["MatMul", "Attention", "Gather"]
# The first layer's feed-forward (traced node names, BERT family). Its output product's int8
# activations cost the most accuracy: one of the 1,536 GELU outputs carries values ~14x larger
# than any other (MiniLM-L6: 24.7 against at most 5.8), so an activation scale per tensor rounds
# the other channels away (MS MARCO nDCG@10 0.6948 against 0.7043 in fp32). The export moves such
# channels to a small fp32 side path and quantises the rest of the product (kb.onnx_recipe):
# cosine to fp32 0.9953 on 400 texts of ~192 tokens, as with the whole product in fp32; nDCG@10
# 0.7009 against 0.7034 (within batch composition's +-0.004); ~6 % faster. Where no channel
# stands out, or the graph is not the expected one, the whole product stays in fp32.
FIRST_FFN = "/model/model.0/encoder/layer.0"
FP32_NODES = [f"{FIRST_FFN}/output/dense/MatMul"]
# A channel is an outlier when its largest activation on the calibration texts is this many
# times the median channel's (MiniLM-L6: 14x for the outlier, at most 3.4x for the others).
OUTLIER_FACTOR = 8.0
MAX_OUTLIERS = 4
# model_type (config.json) -> ONNX Runtime optimizer that fuses its attention and GELU.
FUSERS = {"bert": "bert"}
# Two of ONNX Runtime's fused CPU kernels are slower than what they replace, so the export keeps
# their parts apart and sessions must not fuse them again at load:
# - the residual-add + layer norm (SkipLayerNormalization): 22% of the model's time at 144
#   tokens, against 8% for Add + LayerNormalization (embedding 1.25x faster apart);
# - the bias-add + GELU (BiasGelu): 7.3 ms per batch of 8 x 200 tokens, against 3.0 ms for Gelu
#   once the bias add has folded into the int8 product before it (embedding ~1.07x faster).
UNFUSED_SESSION_OPTIMIZERS = ["SkipLayerNormFusion", "BiasGeluFusion"]


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
        from kb.onnx_recipe import export  # torch and ONNX Runtime's tools: only to export

        export(model_path, staging, isa, fingerprint)
        try:
            staging.rename(target)
        except OSError:
            if not is_complete(target, fingerprint):  # lost a race to another process
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
