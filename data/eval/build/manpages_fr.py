"""Build data/eval/manpages-fr from the French man pages of the manpages-fr package (groff)."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EVAL_DIR, clean, french_enough, passages, write_corpus

MAN = Path("/usr/share/man/fr")
PAGES = [
    "man1/chmod.1",
    "man1/cp.1",
    "man1/date.1",
    "man1/dd.1",
    "man1/df.1",
    "man1/du.1",
    "man1/find.1",
    "man1/grep.1",
    "man1/gzip.1",
    "man1/ln.1",
    "man1/ls.1",
    "man1/mkdir.1",
    "man1/mktemp.1",
    "man1/nice.1",
    "man1/nohup.1",
    "man1/ps.1",
    "man1/rm.1",
    "man1/sed.1",
    "man1/seq.1",
    "man1/crontab.1",
    "man1/passwd.1",
    "man1/kill.1",
    "man1/nano.1",
    "man5/passwd.5",
    "man5/shadow.5",
    "man5/sources.list.5",
    "man5/login.defs.5",
    "man5/nsswitch.conf.5",
    "man5/apt_preferences.5",
    "man8/apt-get.8",
    "man8/adduser.8",
    "man8/cron.8",
]
# Credits, translation notes and cross-references carry nothing to ask about.
SKIP = re.compile(r"^(AUTEURS?|TRADUCTION|COPYRIGHT|SIGNALER DES BOGUES|VOIR AUSSI|BOGUES)$")


def render(path: Path) -> str:
    """The page as plain UTF-8 text, with very long lines so paragraphs stay whole."""
    source = gzip.decompress(path.read_bytes())
    done = subprocess.run(
        ["groff", "-k", "-Tutf8", "-mandoc", "-rLL=2000n", "-rHY=0", "-P-cbou"],
        input=source,
        capture_output=True,
        check=True,
        env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout.decode("utf-8", errors="replace")


def blocks(text: str) -> list[tuple[str, str]]:
    """(section heading, paragraph) pairs; unindented lines are headings."""
    lines = text.split("\n")[1:-3]  # drop the running header and footer
    out: list[tuple[str, str]] = []
    heading, para, skipping = "", [], False

    def flush() -> None:
        if para and not skipping:
            text = clean(" ".join(para))
            if french_enough(text):
                out.append((heading, text))
        para.clear()

    for line in lines:
        if line.strip() and not line.startswith(" "):
            flush()
            heading = clean(line)
            skipping = bool(SKIP.match(heading))
            out.append((heading, ""))
        elif not line.strip():
            flush()
        else:
            para.append(line)
    flush()
    return out


def build() -> list[dict[str, str]]:
    """All passages, page by page."""
    docs: list[dict[str, str]] = []
    for rel in PAGES:
        path = MAN / f"{rel}.gz"
        if not path.exists():
            raise SystemExit(f"missing {path}: apt-get install manpages-fr")
        name, section = Path(rel).name.rsplit(".", 1)
        docs += passages(f"man-{name}.{section}", f"{name}({section})", blocks(render(path)))
    return docs


if __name__ == "__main__":
    folder = EVAL_DIR / "manpages-fr"
    corpus = build()
    write_corpus(folder, corpus)
    if "--corpus-only" not in sys.argv:
        from _questions import audit, write_questions
        from manpages_fr_questions import ANSWERABLE, UNANSWERABLE

        write_questions(folder, ANSWERABLE, UNANSWERABLE)
        print(f"{len(ANSWERABLE)} answerable, {len(UNANSWERABLE)} unanswerable")
        if "--audit" in sys.argv:
            audit(folder, ANSWERABLE)
    print(f"{len(corpus)} passages")
