"""Chunking sized from one tokenisation per section gives exactly the chunks of the slow path."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from ingest.chunking import SentenceChunker, _PartSizes
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import run_python

# Words and marks where a WordPiece tokenizer's word cuts are easy to get wrong.
AWKWARD = [
    "naïve café",
    "日本語のテキストです。",
    "emoji 🎉🎉 party",
    "x" * 150,  # longer than a WordPiece word may be: one [UNK]
    "a\x1cb",  # a control character the tokenizer drops, joining two words
    "£100+$5",
    "e\u0301te\u0301",  # decomposed accents
    "C++/C# and foo_bar-baz",
    "don't «quote» … ﬁne",
    "\u00a0no-break\u00a0spaces\u00a0",
    "tab\there\u200bzero width",
    "١٢٣ Ⅻ",
]
SENTENCES = [
    "The mercury thermometer was invented by Daniel Gabriel Fahrenheit in 1714.",
    "Chroma stores the vectors; SQLite keeps the registry of documents and their hashes.",
    "Reset your password from the account page, then sign in again.",
    "Rates: 3.5% APR (fixed), see section 4.2.b for details!",
    "Paragraphs can be long, with commas, semicolons; and many, many clauses, on and on.",
]


def texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        parts = [rng.choice(SENTENCES) for _ in range(rng.randint(3, 40))]
        parts += rng.sample(AWKWARD, 3)
        rng.shuffle(parts)
        out.append(("\n\n" if i % 2 else " ").join(parts))
    return out


def cuts(chunker: SentenceChunker, text: str) -> list[tuple[int, str]]:
    """Where the chunker cuts ``text``: each passage's offset and text."""
    return [(offset, part) for offset, part, _ids in chunker._split_section(text)]


def test_one_pass_chunks_equal_per_part_tokenisation(
    embedder: SentenceTransformerEmbedder,
) -> None:
    calls = {"fast": 0, "slow": 0}

    def counted(path: str) -> Callable[[str], list[int]]:
        def count(text: str) -> list[int]:
            calls[path] += 1
            return embedder.count_tokens(text)

        return count

    fast = SentenceChunker(40, 8, counted("fast"), embedder.word_tokens)
    slow = SentenceChunker(40, 8, counted("slow"))
    for text in texts(60):
        assert cuts(fast, text) == cuts(slow, text)
    # The awkward words make some parts fall back; most are counted from the one pass.
    assert calls["fast"] < calls["slow"] / 4


def test_part_counts_are_exact_or_declined(embedder: SentenceTransformerEmbedder) -> None:
    """Any part between two word cuts is counted exactly; other parts are left to the
    tokenizer (None), never guessed."""
    rng = random.Random(3)
    counted = 0
    for text in texts(40):
        spans = embedder.word_tokens(text)
        assert spans is not None
        sizes = _PartSizes(text, spans)
        cuts = [i for i in range(len(text) + 1) if sizes._is_cut(i)]
        for _ in range(60):
            start, end = sorted(
                rng.sample(cuts, 2) if rng.random() < 0.8 else rng.sample(range(len(text) + 1), 2)
            )
            sizes._cursor = 0
            found = sizes.count(text[start:end])
            if found is not None:
                counted += 1
                assert found == len(embedder.count_tokens(text[start:end])), text[start:end]
    assert counted > 1000


def test_passage_ids_are_the_tokenizers_or_none(embedder: SentenceTransformerEmbedder) -> None:
    """A passage's ids, taken from its section's one tokenisation, are exactly the ids the
    tokenizer gives the passage alone; a passage not cut at word boundaries has none."""
    chunker = SentenceChunker(40, 8, embedder.count_tokens, embedder.word_tokens)
    known = unknown = 0
    # A 99-letter word of ~85 tokens: the splitter cuts it inside (longer words are one [UNK]).
    rng = random.Random(1)
    long_word = "".join(rng.choice("qzxjvkwy") for _ in range(99))
    for text in [*texts(60), f"{long_word} and {long_word}"]:
        for _offset, part, ids in chunker._split_section(text):
            if ids is None:
                unknown += 1
            else:
                known += 1
                assert ids == embedder.count_tokens(part), part
    assert known > 20 * unknown  # most are known
    assert unknown  # the long words are cut inside


def test_slow_path_knows_no_ids(embedder: SentenceTransformerEmbedder) -> None:
    chunker = SentenceChunker(40, 8, embedder.count_tokens)
    assert all(ids is None for _o, _t, ids in chunker._split_section(texts(1)[0]))
    assert chunker.word_tokens("a title") is None


def test_chunker_is_safe_across_threads(embedder: SentenceTransformerEmbedder) -> None:
    """Each thread counts against its own section."""
    chunker = SentenceChunker(40, 8, embedder.count_tokens, embedder.word_tokens)
    reference = SentenceChunker(40, 8, embedder.count_tokens)
    docs = texts(16, seed=11)
    expected = [cuts(reference, t) for t in docs]
    results: dict[int, list[tuple[int, str]]] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = cuts(chunker, docs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(docs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(docs))] == expected


def test_other_tokenizers_take_the_slow_path(embedder: SentenceTransformerEmbedder) -> None:
    calls: list[str] = []

    def counting(text: str) -> list[int]:
        calls.append(text)
        return embedder.count_tokens(text)

    chunker = SentenceChunker(40, 8, counting, lambda text: None)
    assert chunker._split_section(texts(1)[0])
    assert calls


@pytest.mark.parametrize("text", ["", "   ", "word"])
def test_tiny_sections(embedder: SentenceTransformerEmbedder, text: str) -> None:
    fast = SentenceChunker(40, 8, embedder.count_tokens, embedder.word_tokens)
    slow = SentenceChunker(40, 8, embedder.count_tokens)
    assert cuts(fast, text) == cuts(slow, text)


def test_nltk_loads_without_scikit_learn_or_scipy() -> None:
    """The splitter's NLTK comes without the scikit-learn and SciPy integrations its package
    init would import (~90 MB of a server's memory); sentences are split as before, and both
    packages stay importable for whoever needs them."""
    code = (
        "import sys\n"
        "from ingest.chunking import SentenceChunker\n"
        "chunker = SentenceChunker(12, 2, lambda text: text.split())\n"
        f"parts = chunker._split_section({' '.join(SENTENCES)!r})\n"
        "loaded = sorted(m for m in ('nltk', 'scipy', 'sklearn') if m in sys.modules)\n"
        "import scipy, sklearn\n"
        "print(loaded)\n"
        "print(repr(parts))\n"
    )
    loaded, parts = run_python(code).splitlines()
    assert loaded == "['nltk']"
    # The same cuts as an NLTK imported whole (the tests' process may import it either way).
    reference = SentenceChunker(12, 2, lambda text: text.split())
    assert parts == repr(reference._split_section(" ".join(SENTENCES)))
