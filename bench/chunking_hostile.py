"""Chunking time on hostile texts: inputs that make sentence splitting do a lot of work per
character (sentence ends with no words, one endless sentence, no spaces at all).

Prints seconds to chunk each input in-process with the bundled model's tokenizer (fast path,
one tokenisation per section) at the default chunk size; best of --repeats rounds, since the
machine is shared and interference only ever slows a run down.

Usage: .venv/bin/python bench/chunking_hostile.py [--kb 400] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach a hub
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.chunking import SentenceChunker  # noqa: E402
from ingest.parsers.base import ParsedDocument  # noqa: E402
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder  # noqa: E402
from kb.settings import Settings  # noqa: E402


def inputs(size: int) -> dict[str, str]:
    """Hostile texts of about ``size`` characters each, and an ordinary one to compare."""
    prose = "The thermometer was invented in 1714. It is still in use today, in many forms. "
    french = "M. Dupont a payé 3,5 % de plus, p. ex. « le prix », etc. Mme Durand aussi. "
    return {
        "'. ' repeated": ". " * (size // 2),
        "'.' repeated": "." * size,
        "'a. ' repeated": "a. " * (size // 3),
        "'! ? ' repeated": "! ? " * (size // 4),
        "no spaces": "x" * size,
        "one sentence, no stop": "word " * (size // 5),
        "newlines": "\n" * size,
        "'\\n\\n. ' repeated": "\n\n. " * (size // 4),
        "prose (reference)": prose * (size // len(prose)),
        "French prose (reference)": french * (size // len(french)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=400, help="size of each input, KB")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    settings = Settings()
    embedder = SentenceTransformerEmbedder(
        "bundled:all-MiniLM-L6-v2", cache_dir=REPO / "data" / "models"
    )
    chunker = SentenceChunker(
        settings.chunking.chunk_size,
        settings.chunking.chunk_overlap,
        embedder.count_tokens,
        embedder.word_tokens,
    )
    print(f"{'input':28} {'KB':>5} {'chunks':>7} {'seconds':>8}")
    for name, text in inputs(args.kb * 1000).items():
        best = float("inf")
        count = 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            count = len(chunker.split(ParsedDocument(text, None, "text/plain")))
            best = min(best, time.perf_counter() - start)
        print(f"{name:28} {len(text) // 1000:>5} {count:>7} {best:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
