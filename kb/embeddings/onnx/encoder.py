"""A sentence-transformers model exported to int8 ONNX, run by ONNX Runtime on the CPU."""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from kb.embeddings.onnx.export import ensure_int8_export
from kb.embeddings.onnx.format import META_FILE, MODEL_FILE, UNFUSED_SESSION_OPTIMIZERS
from kb.runtime.priority import lower_thread_priority, thread_nice


def new_session(model_file: Path, options: Any = None, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session for an exported model, with the slow fusions turned off;
    ``threads`` 1 runs every step on the calling thread (0: ONNX Runtime's default pool).

    Its pool threads, if any, spin for work only while a run lasts (between the many steps of
    one batch, where waking sleeping threads would cost), and sleep as soon as it returns: by
    default they kept spinning for ~30 ms after each run, so every search's one-text
    embedding burned ~30 ms of CPU that concurrent searches needed (half the server's CPU
    per search at 100k chunks, one search at a time).
    """
    import onnxruntime as ort

    options = options or ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return ort.InferenceSession(
        str(model_file),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=UNFUSED_SESSION_OPTIMIZERS,
    )


def available_cpus(
    cgroup_root: Path = Path("/sys/fs/cgroup"), own_cgroups: Path = Path("/proc/self/cgroup")
) -> int:
    """CPUs this process may use: its affinity mask where the platform has one, and no more
    than its cgroup's CPU quota (a container limited to 2 CPUs on a 64-core host: 2)."""
    try:
        cpus = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cpus = max(1, os.cpu_count() or 1)
    quota = cpu_quota(cgroup_root, own_cgroups)
    return cpus if quota is None else max(1, min(cpus, math.ceil(quota)))


def cpu_quota(cgroup_root: Path, own_cgroups: Path) -> float | None:
    """CPUs' worth of time per period the process's cgroups allow (cgroup v2 ``cpu.max``,
    v1 ``cpu.cfs_quota_us``), the smallest along its cgroup's path; None when unlimited or
    not readable."""
    try:
        lines = own_cgroups.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":  # v2, one unified hierarchy
            mounts = [cgroup_root, cgroup_root / "unified"]
            read = _v2_quota
        elif "cpu" in controllers.split(","):
            mounts = [cgroup_root / controllers, cgroup_root / "cpu"]
            read = _v1_quota
        else:
            continue
        for mount in mounts:
            for directory in _cgroup_dirs(mount, path):
                quota = read(directory)
                if quota is not None:
                    quotas.append(quota)
    return min(quotas) if quotas else None


def _cgroup_dirs(mount: Path, path: str) -> list[Path]:
    """The cgroup's directory under ``mount`` and its ancestors up to the mount (only the
    mount itself where the path is not visible there, as inside a container)."""
    if not mount.is_dir():
        return []
    parts = [part for part in path.strip().split("/") if part and part != ".."]
    found = [mount]
    for depth in range(1, len(parts) + 1):
        directory = mount.joinpath(*parts[:depth])
        if not directory.is_dir():
            break
        found.append(directory)
    return found


def _v2_quota(directory: Path) -> float | None:
    try:
        quota, period = (directory / "cpu.max").read_text().split()[:2]
        if quota == "max" or int(period) <= 0:
            return None
        return int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


class OnnxSentenceEncoder:
    """The exported model plus its tokenizer; ``encode`` mirrors SentenceTransformer.encode.

    Batches run on ``threads`` threads at once (0: one per CPU), each batch whole on one
    thread: the caller's and ``threads - 1`` kept for it, which keep the priority of the thread
    that created the encoder (``kb.runtime.priority``: ingestion's). One text (a search's question)
    runs on its caller's thread alone (~0.5 ms), so it never waits behind ingestion's batches.

    One batch per thread, rather than each batch split over every core by ONNX Runtime's own
    pool: a core taken by other work (parsing, writes, another process) then slows only the
    batch on it, where a split batch waits at every step for its slowest part while the other
    threads spin; and no thread spins. The model alone, both ways taking turns: as fast or
    faster (194-token chunks 174.5 against 173.9 chunks/s, 181.1 against 165.8 at a busier
    time; 146-token 243.8 against 228.4); ingestion as fast on average, with less spread
    (README, Performance).
    """

    takes_token_budget = True  # ``encode`` takes ``max_batch_tokens``
    takes_token_ids = True  # and ``token_ids``

    def __init__(self, export_dir: Path, threads: int = 0) -> None:
        meta = json.loads((export_dir / META_FILE).read_text())
        self.export_dir = export_dir
        self.max_seq_length = int(meta["max_seq_length"])
        self.dimension = int(meta["dimension"])
        # The fast tokenizer's core (``tokenizers``), truncating to the model's window: the
        # same ids as transformers' AutoTokenizer, without importing transformers and torch.
        self.tokenizer = load_tokenizer(export_dir, self.max_seq_length)
        # Special tokens around a text's ids (BERT's [CLS] ... [SEP]), to build inputs from ids
        # given with the texts; None when the tokenizer's template is not that simple.
        self._template = special_template(self.tokenizer)
        self._inputs: list[str] = list(meta["inputs"])
        # Padding values per input; attention masks pad with 0 so padding never counts.
        self._pad = {"input_ids": pad_token_id(export_dir, self.tokenizer), "token_type_ids": 0}
        # One single-threaded session, run by several threads at once (ONNX Runtime allows it).
        self._session = new_session(export_dir / MODEL_FILE, threads=1)
        self.threads = threads or available_cpus()
        self._lanes: ThreadPoolExecutor | None = None
        if self.threads > 1:
            self._lanes = ThreadPoolExecutor(
                self.threads - 1,
                "embed-lane",
                initializer=lower_thread_priority,
                initargs=(thread_nice(),),
            )

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        max_batch_tokens: int | None = None,
        token_ids: Sequence[Sequence[int] | None] | None = None,
    ) -> np.ndarray:
        """One embedding row per sentence, in order.

        Texts are tokenised once and batched by token length, so each batch pads to the
        length of similar texts rather than of the longest one. A batch holds at most
        ``batch_size`` texts and, with ``max_batch_tokens``, at most that many tokens padded
        (at least one text): long passages then go in smaller batches, whose activations stay
        in the CPU's caches. A few texts are cut into one batch per thread, not fewer.
        ``convert_to_numpy`` and ``show_progress_bar`` exist for call compatibility with
        SentenceTransformer and change nothing (the result is always an array; there is no
        progress bar).
        """
        del convert_to_numpy, show_progress_bar
        encoded = self._tokenised(sentences, token_ids)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        per_thread = -(-len(order) // self.threads)  # ceil: a few texts still use every thread
        batches: list[tuple[np.ndarray, int]] = []
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])  # the longest of the batch: sorted longest first
            count = min(batch_size, per_thread)
            if max_batch_tokens:
                count = min(count, max_batch_tokens // max(width, 1))
            count = max(1, count)
            batches.append((order[start : start + count], width))
            start += count
        if not batches:
            return np.zeros((0, self.dimension), np.float32)
        by_length = np.concatenate(self._run(encoded, batches))
        vectors = np.empty_like(by_length)
        vectors[order] = by_length  # back to the caller's order
        if normalize_embeddings:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _tokenised(
        self, sentences: Sequence[str], token_ids: Sequence[Sequence[int] | None] | None
    ) -> dict[str, list[list[int]]]:
        """Each input of the model, per sentence, unpadded: from the ids given, or else from
        the tokenizer (truncated to the model's window either way)."""
        if token_ids is not None and len(token_ids) != len(sentences):
            raise ValueError(f"{len(token_ids)} token id lists for {len(sentences)} texts")
        known = list(token_ids) if token_ids is not None and self._template else []
        known = known or [None] * len(sentences)
        todo = [i for i, ids in enumerate(known) if ids is None]
        encodings = self.tokenizer.encode_batch([sentences[i] for i in todo]) if todo else []
        encoded: dict[str, list[list[int]]] = {
            "input_ids": [[] for _ in sentences],
            "token_type_ids": [[] for _ in sentences],
            "attention_mask": [[] for _ in sentences],
        }
        for i, e in zip(todo, encodings, strict=True):
            encoded["input_ids"][i] = e.ids
            encoded["token_type_ids"][i] = e.type_ids
            encoded["attention_mask"][i] = e.attention_mask
        if len(todo) < len(sentences):
            assert self._template is not None
            head, tail = self._template
            room = self.max_seq_length - len(head) - len(tail)
            for i, ids in enumerate(known):
                if ids is not None:
                    full = [*head, *ids[:room], *tail]
                    encoded["input_ids"][i] = full
                    encoded["token_type_ids"][i] = [0] * len(full)
                    encoded["attention_mask"][i] = [1] * len(full)
        return encoded

    def _run(
        self, encoded: dict[str, list[list[int]]], batches: list[tuple[np.ndarray, int]]
    ) -> list[np.ndarray]:
        """Each batch's output rows, in order: batches are taken one at a time by the caller's
        thread and up to ``threads - 1`` lane threads (a thread that finishes takes the next,
        so uneven batches even out)."""
        rows: list[np.ndarray | None] = [None] * len(batches)
        taken = itertools.count()
        lock = threading.Lock()
        failed = threading.Event()

        def lane() -> None:
            while not failed.is_set():
                with lock:
                    index = next(taken)
                if index >= len(batches):
                    return
                try:
                    feed = self._padded(encoded, *batches[index])
                    rows[index] = self._session.run(None, feed)[0]
                except BaseException:
                    failed.set()  # the other lanes stop after their batch
                    raise

        helpers = min(len(batches), self.threads) - 1
        assert helpers <= 0 or self._lanes is not None
        lanes = [self._lanes.submit(lane) for _ in range(helpers)] if self._lanes else []
        try:
            lane()
        finally:
            # Every batch is taken now. A lane still queued (behind another call's lanes: an
            # answer embedding its sentences during ingestion) has nothing left to do, so it
            # is dropped rather than waited for; one that started finishes its batch first.
            started = [future for future in lanes if not future.cancel()]
            wait(started)  # none outlives the call, even when the caller's lane failed
        for done in started:
            done.result()  # a lane's error, raised here
        assert all(row is not None for row in rows)
        return rows  # type: ignore[return-value]  # every batch ran

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


def load_tokenizer(export_dir: Path, max_length: int) -> Any:
    """The export's fast tokenizer (``tokenizer.json``), truncating at ``max_length`` tokens
    (special tokens included) and never padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def special_template(tokenizer: Any) -> tuple[list[int], list[int]] | None:
    """The special tokens the tokenizer puts before and after a single text's ids, when it
    adds nothing else (token types all 0, every token attended: BERT's [CLS] text [SEP]);
    None otherwise."""
    plain = tokenizer.encode("a", add_special_tokens=False).ids
    full = tokenizer.encode("a")
    ids = full.ids
    for start in range(len(ids) - len(plain) + 1):
        if ids[start : start + len(plain)] == plain:
            break
    else:
        return None
    if any(full.type_ids) or not all(full.attention_mask):
        return None
    return ids[:start], ids[start + len(plain) :]


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


def load_int8_encoder(model_path: str, cache_dir: Path, threads: int = 0) -> OnnxSentenceEncoder:
    """The int8 ONNX encoder for ``model_path``, exported into ``cache_dir`` on first use,
    running batches on ``threads`` threads (0: one per CPU)."""
    return OnnxSentenceEncoder(ensure_int8_export(model_path, cache_dir), threads)
