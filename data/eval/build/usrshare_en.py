"""Build data/eval/usrshare-en/corpus.jsonl from English documentation under /usr/share/doc."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EVAL_DIR, html_blocks, markdown_blocks, passages, read_text, write_corpus
from _questions import audit, write_questions
from usrshare_en_questions import ANSWERABLE, UNANSWERABLE

DOC = Path("/usr/share/doc")
# (id prefix, file, kind); prose manuals from packages with DFSG licences (see README.md).
SOURCES = [
    ("bzip2", "bzip2/manual.html", "html"),
    ("time", "time/time.html", "html"),
    ("ninja", "ninja-build/manual.html", "html"),
    ("passwd", "base-passwd/users-and-groups.html", "html"),
    ("vg-quick", "valgrind/html/quick-start.html", "html"),
    ("vg-faq", "valgrind/html/faq.html", "html"),
    ("vg-mc", "valgrind/html/mc-manual.html", "html"),
    ("zlib", "zlib1g-dev/examples/zlib_how.html", "html"),
    ("pip", "python3-pip/html/user_guide.rst.gz", "text"),
    ("redis", "redis-server/README.md.gz", "text"),
    ("sd-env", "systemd/ENVIRONMENT.md.gz", "text"),
    ("triggers", "dpkg/spec/triggers.txt", "text"),
]
TITLES = {
    "pip": "pip User Guide",
    "redis": "Redis README",
    "sd-env": "systemd environment variables",
    "triggers": "dpkg triggers specification",
}


def build() -> list[dict[str, str]]:
    """All passages, in source order."""
    docs: list[dict[str, str]] = []
    for slug, rel, kind in SOURCES:
        path = DOC / rel
        if not path.exists():
            raise SystemExit(f"missing {path}: install its package to rebuild this corpus")
        text = read_text(path)
        if kind == "html":
            title, blocks = html_blocks(text)
        else:
            title, blocks = markdown_blocks(text, TITLES[slug])
        docs += passages(slug, title, blocks)
    return docs


if __name__ == "__main__":
    folder = EVAL_DIR / "usrshare-en"
    corpus = build()
    write_corpus(folder, corpus)
    write_questions(folder, ANSWERABLE, UNANSWERABLE)
    print(f"{len(corpus)} passages, {len(ANSWERABLE)} answerable, {len(UNANSWERABLE)} unanswerable")
    if "--audit" in sys.argv:
        audit(folder, ANSWERABLE)
