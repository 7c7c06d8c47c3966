"""Build data/eval/debian-reference-fr from the installed debian-reference-fr package (French)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EVAL_DIR, french_enough, html_blocks, passages, read_text, write_corpus

ROOT = Path("/usr/share/debian-reference")
# Prose chapters; package tables are left out (lists of names, little to ask about).
CHAPTERS = ["ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch09", "ch10"]


def build() -> list[dict[str, str]]:
    """All passages, in chapter order."""
    docs: list[dict[str, str]] = []
    for ch in CHAPTERS:
        path = ROOT / f"{ch}.fr.html"
        if not path.exists():
            raise SystemExit(f"missing {path}: apt-get install debian-reference-fr")
        title, blocks = html_blocks(read_text(path), tables=False)
        # Untranslated English paragraphs are dropped so that the set stays French.
        blocks = [(h, t) for h, t in blocks if not t or french_enough(t)]
        docs += passages(f"dr-{ch}", title, blocks)
    return docs


if __name__ == "__main__":
    folder = EVAL_DIR / "debian-reference-fr"
    corpus = build()
    write_corpus(folder, corpus)
    if "--corpus-only" not in sys.argv:
        from _questions import audit, write_questions
        from debian_reference_fr_questions import ANSWERABLE, UNANSWERABLE

        write_questions(folder, ANSWERABLE, UNANSWERABLE)
        print(f"{len(ANSWERABLE)} answerable, {len(UNANSWERABLE)} unanswerable")
        if "--audit" in sys.argv:
            audit(folder, ANSWERABLE)
    print(f"{len(corpus)} passages")
