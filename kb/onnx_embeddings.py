"""A sentence-transformers model exported to int8 ONNX, run by ONNX Runtime on the CPU."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.onnx_export import (
    META_FILE,
    MODEL_FILE,
    SHARED_FILE,
    UNFUSED_SESSION_OPTIMIZERS,
    ensure_int8_export,
)


def new_session(
    model_file: Path, options: Any = None, threads: int = 0, shared: dict[str, Any] | None = None
) -> Any:
    """An ONNX Runtime CPU session for an exported model, with the slow fusions turned off;
    ``threads`` 1 runs every step on the calling thread (0: ONNX Runtime's default pool).
    ``shared`` maps initializer names to OrtValues used in place of the model's own copies
    (sessions given the same values share that memory; the caller keeps them alive).

    Its pool threads spin for work only while a run lasts (between the many steps of one
    batch, where waking sleeping threads would cost), and sleep as soon as it returns: by
    default they kept spinning for ~30 ms after each run, so every search's one-text
    embedding burned ~30 ms of CPU that concurrent searches needed (half the server's CPU
    per search at 100k chunks, one search at a time).
    """
    import onnxruntime as ort

    options = options or ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    for name, value in (shared or {}).items():
        options.add_initializer(name, value)
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return ort.InferenceSession(
        str(model_file),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=UNFUSED_SESSION_OPTIMIZERS,
    )


class OnnxSentenceEncoder:
    """The exported model plus its tokenizer; ``encode`` mirrors SentenceTransformer.encode."""

    takes_token_budget = True  # ``encode`` takes ``max_batch_tokens``

    def __init__(self, export_dir: Path) -> None:
        meta = json.loads((export_dir / META_FILE).read_text())
        self.export_dir = export_dir
        self.max_seq_length = int(meta["max_seq_length"])
        self.dimension = int(meta["dimension"])
        # The fast tokenizer's core (``tokenizers``), truncating to the model's window: the
        # same ids as transformers' AutoTokenizer, without importing transformers and torch.
        self.tokenizer = load_tokenizer(export_dir, self.max_seq_length)
        self._inputs: list[str] = list(meta["inputs"])
        # Padding values per input; attention masks pad with 0 so padding never counts.
        self._pad = {"input_ids": pad_token_id(export_dir, self.tokenizer), "token_type_ids": 0}
        # Batches run on a pool of one thread per core (it starts with the session and keeps
        # the priority of the thread that created it: kb.priority). One text (a search's
        # question) runs on its caller's thread alone (~0.5 ms), so it never waits for a pool
        # that ingestion keeps busy, nor wakes it. Both sessions read the word-embedding table
        # from one copy (47 MB for MiniLM; each would otherwise hold its own).
        self._shared = load_shared(export_dir / SHARED_FILE)
        model = export_dir / MODEL_FILE
        self._session = new_session(model, shared=self._shared)
        self._single = new_session(model, threads=1, shared=self._shared)

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        max_batch_tokens: int | None = None,
    ) -> np.ndarray:
        """One embedding row per sentence, in order.

        Texts are tokenised once and batched by token length, so each batch pads to the
        length of similar texts rather than of the longest one. A batch holds at most
        ``batch_size`` texts and, with ``max_batch_tokens``, at most that many tokens padded
        (at least one text): long passages then go in smaller batches, whose activations stay
        in the CPU's caches. ``convert_to_numpy`` and
        ``show_progress_bar`` exist for call compatibility with SentenceTransformer and change
        nothing (the result is always an array; there is no progress bar).
        """
        del convert_to_numpy, show_progress_bar
        encodings = self.tokenizer.encode_batch(list(sentences))
        encoded = {
            "input_ids": [e.ids for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
        }
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        rows: list[np.ndarray] = []
        session = self._single if len(order) == 1 else self._session
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])  # the longest of the batch: sorted longest first
            count = batch_size
            if max_batch_tokens:
                count = max(1, min(batch_size, max_batch_tokens // max(width, 1)))
            batch = order[start : start + count]
            start += count
            rows.append(session.run(None, self._padded(encoded, batch, width))[0])
        if not rows:
            return np.zeros((0, self.dimension), np.float32)
        by_length = np.concatenate(rows)
        vectors = np.empty_like(by_length)
        vectors[order] = by_length  # back to the caller's order
        if normalize_embeddings:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _padded(
        self, encoded: dict[str, list[list[int]]], batch: np.ndarray, width: int
    ) -> dict[str, np.ndarray]:
        feed = {}
        for name in self._inputs:
            array = np.full((len(batch), width), self._pad.get(name, 0), dtype=np.int64)
            for row, index in enumerate(batch):
                values = encoded[name][index]
                array[row, : len(values)] = values
            feed[name] = array
        return feed


def load_shared(path: Path) -> dict[str, Any]:
    """The export's shared initializers (``SHARED_FILE``) as OrtValues, by name."""
    import onnxruntime as ort

    with np.load(path) as tables:
        return {
            name: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(tables[name]))
            for name in tables.files
        }


def load_tokenizer(export_dir: Path, max_length: int) -> Any:
    """The export's fast tokenizer (``tokenizer.json``), truncating at ``max_length`` tokens
    (special tokens included) and never padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def pad_token_id(export_dir: Path, tokenizer: Any) -> int:
    """The id of the tokenizer's padding token (``tokenizer_config.json``); 0 when unnamed."""
    try:
        config = json.loads((export_dir / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        config = {}
    pad = config.get("pad_token") if isinstance(config, dict) else None
    if isinstance(pad, dict):  # an AddedToken written out
        pad = pad.get("content")
    found = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
    return int(found) if found is not None else 0


def load_int8_encoder(model_path: str, cache_dir: Path) -> OnnxSentenceEncoder:
    """The int8 ONNX encoder for ``model_path``, exported into ``cache_dir`` on first use."""
    return OnnxSentenceEncoder(ensure_int8_export(model_path, cache_dir))
