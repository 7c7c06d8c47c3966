"""The int8 ONNX embedding backend: close to fp32, exported once, rebuilt when broken."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from api.container import build_container
from kb.embeddings.base import sha256_file
from kb.embeddings.onnx.encoder import (
    OnnxSentenceEncoder,
    available_cpus,
    cpu_quota,
    new_session,
    special_template,
)
from kb.embeddings.onnx.export import cpu_isa, export_dir_for
from kb.embeddings.onnx.format import FP32_NODES, META_FILE, MODEL_FILE
from kb.embeddings.sentence_transformer import (
    SentenceTransformerEmbedder,
    extract_bundled_minilm,
)
from kb.settings import Settings
from tests.conftest import MODEL_CACHE, make_settings, run_python

SENTENCES = [
    "How do I reset my password?",
    "Tomato soup",
    "The mercury thermometer was invented by Daniel Gabriel Fahrenheit in 1714, ten years "
    "before he introduced the temperature scale that bears his name.",
    "Steps to change a forgotten password",
    "Chroma stores the vectors; SQLite keeps the registry of documents and their hashes.",
]


@pytest.fixture(scope="session")
def model_dir() -> str:
    """The extracted bundled model, as a local directory spec."""
    return str(extract_bundled_minilm(MODEL_CACHE))


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory, model_dir: str) -> Path:
    """A cache directory holding one int8 export, made once per session."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    SentenceTransformerEmbedder(model_dir, cache, backend="onnx-int8").embed(["export"])
    return cache


@pytest.fixture(scope="session")
def fp32(model_dir: str, onnx_cache: Path) -> SentenceTransformerEmbedder:
    """The reference fp32 torch model."""
    return SentenceTransformerEmbedder(model_dir, onnx_cache, backend="torch")


def export_dir(cache: Path) -> Path:
    [found] = [p for p in cache.iterdir() if p.name.endswith(f".onnx-int8-{cpu_isa()}")]
    return found


def test_int8_vectors_stay_close_to_fp32(
    model_dir: str, onnx_cache: Path, fp32: SentenceTransformerEmbedder
) -> None:
    int8 = SentenceTransformerEmbedder(model_dir, onnx_cache, batch_size=2, backend="onnx-int8")
    assert isinstance(int8.model, OnnxSentenceEncoder)
    fast, slow = np.array(int8.embed(SENTENCES)), np.array(fp32.embed(SENTENCES))
    assert fast.shape == slow.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    # Batches of 2 regroup the texts by length: rows must still come back in input order.
    assert (np.sum(fast * slow, axis=1) >= 0.98).all()
    assert int8.max_seq_length == fp32.max_seq_length == 256
    assert int8.count_tokens("Tomato soup") == fp32.count_tokens("Tomato soup")


def test_long_texts_go_in_smaller_batches_under_the_token_budget(
    model_dir: str, onnx_cache: Path
) -> None:
    """With ``batch_tokens``, a batch holds at most that many tokens padded (at least one
    text) and at most ``batch_size`` texts; vectors come back in input order either way."""
    embedder = SentenceTransformerEmbedder(
        model_dir, onnx_cache, batch_size=16, batch_tokens=96, backend="onnx-int8"
    )
    encoder = embedder.model
    shapes: list[tuple[int, int]] = []
    real = encoder._session

    class Recording:
        def run(self, names: object, feed: dict[str, np.ndarray]) -> object:
            shapes.append(feed["input_ids"].shape)
            return real.run(names, feed)

    long_text = " ".join(["The warranty covers parts and labour for two years."] * 12)
    texts = ["Tomato soup", long_text, "How do I reset my password?", *["Short note."] * 40]
    encoder._session = Recording()
    try:
        vectors = np.array(embedder.embed(texts))
    finally:
        encoder._session = real

    assert shapes[0][0] == 1 and shapes[0][1] > 96  # longer than the budget: alone
    assert all(rows * width <= 96 or rows == 1 for rows, width in shapes)
    assert max(rows for rows, _ in shapes) == 16  # short texts: up to batch_size
    assert sum(rows for rows, _ in shapes) == len(texts)
    reference = np.array(SentenceTransformerEmbedder(model_dir, onnx_cache).embed(texts))
    assert (np.sum(vectors * reference, axis=1) >= 0.98).all()


def test_export_keeps_the_fast_and_accurate_graph(onnx_cache: Path, tmp_path: Path) -> None:
    """Fused attention and int8 products, but no SkipLayerNormalization or BiasGelu (slow CPU
    kernels), neither in the file nor in the session's optimised graph, where the feed-forward
    bias joins the int8 product instead; and the first feed-forward's outlier channel on an fp32
    side path (accuracy)."""
    import onnx
    import onnxruntime as ort

    model_file = export_dir(onnx_cache) / MODEL_FILE
    graph = onnx.load(str(model_file)).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("QAttention") == 6 and "LayerNormalization" in ops
    assert "SkipLayerNormalization" not in ops and "BiasGelu" not in ops
    # The first feed-forward's outlier channel runs in fp32 beside the int8 product.
    prefix = FP32_NODES[0].removesuffix("/MatMul") + "/outliers/"
    side = {node.name.removeprefix(prefix): node.op_type for node in graph.node}
    steps = {"up": "MatMul", "add": "Add", "gelu": "Gelu", "down": "MatMul", "sum": "Add"}
    assert {name: side.get(name) for name in steps} == steps
    assert not [node for node in graph.node if node.name in FP32_NODES]  # quantised now
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    new_session(model_file, options)
    nodes = onnx.load(str(tmp_path / "optimized.onnx")).graph.node
    optimized = [node.op_type for node in nodes]
    assert "LayerNormalization" in optimized and "SkipLayerNormalization" not in optimized
    assert optimized.count("Gelu") == 7 and "BiasGelu" not in optimized  # 6 layers + the side
    producer = {output: node for node in nodes for output in node.output}
    feeding_gelu = [
        producer[node.input[0]]
        for node in nodes
        if node.op_type == "Gelu" and "outliers" not in node.name
    ]
    # DynamicQuantizeMatMul's fifth input is its bias.
    assert all(n.op_type == "DynamicQuantizeMatMul" and len(n.input) == 5 for n in feeding_gelu)


TASKS = Path("/proc/self/task")


def _thread_ids() -> set[int]:
    return {int(task.name) for task in TASKS.iterdir()}


def _cpu_seconds(tids: set[int]) -> float:
    """CPU time the threads ``tids`` have run so far (threads gone since count as 0)."""
    total = 0
    for tid in tids:
        try:
            total += int((TASKS / str(tid) / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def _idle_cpu_after(run: Callable[[], object], tids: set[int]) -> list[float]:
    """CPU run by ``tids`` in the 0.3 s after each of four calls of ``run``."""
    burned = []
    for _ in range(4):
        run()
        before = _cpu_seconds(tids)
        time.sleep(0.3)
        burned.append(_cpu_seconds(tids) - before)
    return burned


needs_schedstat = pytest.mark.skipif(
    not Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").exists(),
    reason="per-thread CPU time comes from Linux's /proc/<pid>/task/<tid>/schedstat",
)


@needs_schedstat
def test_the_runtimes_pool_threads_sleep_after_a_run(onnx_cache: Path) -> None:
    """Regression: a process-wide CPU limit failed under load; now only the pool's threads count."""
    # ONNX Runtime's pool threads spun ~30 ms after each run by default, CPU that concurrent
    # searches needed. Asleep, they run none at all; the figures: bench/idle_cpu_bench.py.
    before = _thread_ids()
    session = new_session(export_dir(onnx_cache) / MODEL_FILE, threads=2)
    pool = _thread_ids() - before
    assert pool, "a two-thread session started no pool thread"
    feed = {i.name: np.ones((4, 32), dtype=np.int64) for i in session.get_inputs()}
    burned = _idle_cpu_after(lambda: session.run(None, feed), pool)
    assert max(burned) < 0.005, burned  # spinning burns ~0.02 s of it; asleep, none


@needs_schedstat
def test_the_encoders_threads_sleep_after_a_question_or_a_batch(
    model_dir: str, onnx_cache: Path
) -> None:
    """Regression: a process-wide CPU limit failed under load; now only the encoder's threads."""
    # After a question, or a batch, every thread the encoder started sleeps (left spinning they
    # burned ~30 ms of CPU per search).
    before = _thread_ids()
    embedder = SentenceTransformerEmbedder(model_dir, onnx_cache, threads=2)
    embedder.embed(SENTENCES)  # starts the batch threads
    started = _thread_ids() - before
    assert started, "the encoder started no threads for batches"
    for texts in (["How do I reset my password?"], SENTENCES):
        burned = _idle_cpu_after(lambda texts=texts: embedder.embed(texts), started)
        assert max(burned) < 0.005, (texts, burned)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_batches_run_on_low_priority_threads_and_one_text_on_the_caller(
    model_dir: str, onnx_cache: Path
) -> None:
    """The threads the encoder keeps for batches run at ``pool_nice``; a single text (a
    search's query) runs on the caller's thread, at its priority, with the vector a batch
    gives it (int8 activations are scaled per batch, so the comparison batch holds the same
    text twice: its scale is the text's own)."""
    tasks = Path("/proc/self/task")
    before = {p.name for p in tasks.iterdir()}
    embedder = SentenceTransformerEmbedder(model_dir, onnx_cache, pool_nice=11, threads=3)
    batch = np.array(embedder.embed(SENTENCES))
    started = [int(p.name) for p in tasks.iterdir() if p.name not in before]
    assert started, "the encoder started no threads for batches"
    assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in started} == {11}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0
    assert batch.shape == (len(SENTENCES), 384)
    for text in SENTENCES:
        alone, (pooled, _) = embedder.embed([text]), embedder.embed([text, text])
        assert np.allclose(alone[0], pooled, atol=1e-5)


def test_batches_run_on_several_threads_at_once(model_dir: str, onnx_cache: Path) -> None:
    """With ``threads`` 2, two batches run at the same time, each whole on one thread (the
    caller's is one of them); a few texts are cut so that both threads get some; the vectors
    are those of one thread doing it all; an error in any batch reaches the caller, and no
    batch is still running when it does."""
    texts = [f"{s} ({i})" for i in range(4) for s in SENTENCES]
    one = SentenceTransformerEmbedder(model_dir, onnx_cache, batch_size=1, threads=1)
    two = SentenceTransformerEmbedder(model_dir, onnx_cache, batch_size=1, threads=2)
    encoder = two.model
    real = encoder._session
    runs: list[tuple[float, float, int, int]] = []

    class Recording:
        calls = itertools.count()
        fail_on: int | None = None

        def run(self, names: object, feed: dict[str, np.ndarray]) -> object:
            start = time.monotonic()
            if next(self.calls) == self.fail_on:
                raise RuntimeError("out of memory")
            time.sleep(0.02)  # long enough for the two threads' runs to meet
            result = real.run(names, feed)
            runs.append(
                (start, time.monotonic(), threading.get_native_id(), len(feed["input_ids"]))
            )
            return result

    recording = Recording()
    encoder._session = recording
    try:
        vectors = np.array(two.embed(texts))
        assert len(runs) == len(texts)
        assert {tid for _, _, tid, _ in runs} >= {threading.get_native_id()}
        assert len({tid for _, _, tid, _ in runs}) == 2
        assert any(
            a0 < b1 and b0 < a1 and ta != tb for a0, a1, ta, _ in runs for b0, b1, tb, _ in runs
        ), "no two batches ran at the same time"
        runs.clear()
        two._batch_size = 16
        two.embed(SENTENCES[:4])
        assert sorted(rows for *_, rows in runs) == [2, 2]  # one batch per thread, not one
        runs.clear()
        two._batch_size = 1
        recording.calls, recording.fail_on = itertools.count(), 5
        with pytest.raises(RuntimeError, match="out of memory"):
            two.embed(texts)
        settled = len(runs)
        time.sleep(0.1)
        assert len(runs) == settled  # nothing ran on after the error was raised
    finally:
        encoder._session = real
    assert np.allclose(vectors, np.array(one.embed(texts)), atol=1e-6)


def test_a_call_does_not_wait_for_lanes_busy_with_another_call(
    model_dir: str, onnx_cache: Path
) -> None:
    """An answer embedding its sentences while ingestion's batches hold the lane threads runs
    its batches on its own thread and returns; it does not wait for a lane to come free."""
    embedder = SentenceTransformerEmbedder(model_dir, onnx_cache, batch_size=1, threads=2)
    encoder = embedder.model
    real = encoder._session
    hold, busy = threading.Event(), threading.Semaphore(0)
    asking = threading.local()

    class Holding:
        def run(self, names: object, feed: dict[str, np.ndarray]) -> object:
            if not getattr(asking, "answer", False):  # the ingestion call's two lanes
                busy.release()
                hold.wait(timeout=30)
            return real.run(names, feed)

    encoder._session = Holding()
    ingesting = threading.Thread(target=embedder.embed, args=(SENTENCES * 4,))
    ingesting.start()
    try:
        assert busy.acquire(timeout=10) and busy.acquire(timeout=10)  # both lanes held
        answered: list[list[list[float]]] = []

        def answer() -> None:
            asking.answer = True
            answered.append(embedder.embed(SENTENCES[:3]))

        answering = threading.Thread(target=answer)
        answering.start()
        answering.join(timeout=10)
        assert not answering.is_alive(), "the answer waited for a lane held by ingestion"
    finally:
        hold.set()
        ingesting.join(timeout=30)
        encoder._session = real
    assert len(answered[0]) == 3
    assert np.allclose(answered[0], embedder.embed(SENTENCES[:3]), atol=1e-6)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_container_cpu_quota_bounds_the_threads(tmp_path: Path) -> None:
    """One lane per CPU the process may use: a container's CPU quota (cgroup v2 or v1, the
    smallest along its cgroup's path) counts, not only the host's CPUs in its affinity."""
    root, own = tmp_path / "cgroup", tmp_path / "self-cgroup"
    write(own, "0::/kubepods/pod1/app\n")
    write(root / "cpu.max", "max 100000\n")
    write(root / "kubepods/pod1/cpu.max", "150000 100000\n")  # the pod: 1.5 CPUs
    write(root / "kubepods/pod1/app/cpu.max", "max 100000\n")
    assert cpu_quota(root, own) == 1.5
    assert available_cpus(root, own) == min(2, available_cpus(tmp_path / "none", own))
    write(root / "kubepods/pod1/cpu.max", "50000 100000\n")  # half a CPU: still one lane
    assert available_cpus(root, own) == 1

    # Inside a container the cgroup's path is not visible: the mount's own files count.
    write(own, "0::/kubepods/pod1/hidden\n")
    assert cpu_quota(root, own) == 0.5
    write(own, "3:cpu,cpuacct:/docker/abc\n2:memory:/docker/abc\n")  # cgroup v1
    v1 = root / "cpu,cpuacct"
    write(v1 / "cpu.cfs_quota_us", "-1\n")
    write(v1 / "cpu.cfs_period_us", "100000\n")
    assert cpu_quota(root, own) is None  # unlimited
    write(v1 / "docker/abc/cpu.cfs_quota_us", "300000\n")
    write(v1 / "docker/abc/cpu.cfs_period_us", "100000\n")
    assert cpu_quota(root, own) == 3.0
    for broken in ["", "nonsense", "0::/\n"]:
        write(own, broken)
        write(root / "cpu.max", "garbage 0\n")
        assert cpu_quota(root, own) is None
    assert cpu_quota(root, tmp_path / "missing") is None


def test_a_cached_export_loads_without_torch(model_dir: str, onnx_cache: Path) -> None:
    """Serving from a cached export imports neither torch nor transformers (~210 MB of memory
    and ~1 s of start-up): a fresh interpreter embeds and checks what it imported."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder\n"
        f"e = SentenceTransformerEmbedder({model_dir!r}, Path({str(onnx_cache)!r}))\n"
        "assert len(e.embed(['Tomato soup'])[0]) == 384\n"
        "assert e.count_tokens('Tomato soup')\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers')"
        " if m in sys.modules))\n"
    )
    assert run_python(code) == "[]"


def test_tokenizer_gives_transformers_ids(onnx_cache: Path) -> None:
    """The encoder tokenises with ``tokenizers`` directly; ids, token types and masks are
    those of transformers' AutoTokenizer with the same truncation, on awkward text too."""
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(export_dir(onnx_cache)))
    encoder = OnnxSentenceEncoder(export_dir(onnx_cache))
    texts = [
        *SENTENCES,
        "",
        "   ",
        "Ünïcödé café naïve, emoji 🎉 and CJK 漢字テスト",
        "x" * 3000,
        " ".join(["word"] * 600),
        "tabs\tand\nnew lines\r\n",
        "[CLS] [SEP] [PAD] written out",
    ]
    expected = reference(texts, truncation=True, max_length=encoder.max_seq_length)
    got = encoder.tokenizer.encode_batch(texts)
    assert [e.ids for e in got] == expected["input_ids"]
    assert [e.type_ids for e in got] == expected["token_type_ids"]
    assert [e.attention_mask for e in got] == expected["attention_mask"]
    assert encoder._pad["input_ids"] == reference.pad_token_id


def test_given_token_ids_stand_for_tokenising(model_dir: str, onnx_cache: Path) -> None:
    """Ids handed in with texts (the chunker's, from ``word_tokens``: untruncated, without
    special tokens) give the model exactly the inputs, and so the vectors, the tokenizer would;
    texts without ids are tokenised beside them."""
    embedder = SentenceTransformerEmbedder(model_dir, onnx_cache, backend="onnx-int8")
    encoder = embedder.model
    texts = [
        *SENTENCES,
        "Ünïcödé café naïve, emoji 🎉 and CJK 漢字テスト",
        " ".join(["word"] * 600),  # truncated to the model's window
        "x" * 3000,
    ]
    words = [embedder.word_tokens(text) for text in texts]
    given = [None if i % 3 == 0 else w.ids for i, w in enumerate(words) if w is not None]
    assert len(given) == len(texts)
    assert encoder._template == ([101], [102])
    assert encoder._tokenised(texts, given) == encoder._tokenised(texts, None)
    assert embedder.embed(texts, given) == embedder.embed(texts)


def test_a_template_with_token_types_takes_no_ids() -> None:
    from tokenizers import Tokenizer, models, processors

    tokenizer = Tokenizer(models.WordLevel({"[CLS]": 0, "[SEP]": 1, "a": 2}, unk_token="[CLS]"))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 0), ("[SEP]", 1)]
    )
    assert special_template(tokenizer) == ([0], [1])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A:1 [SEP]", special_tokens=[("[CLS]", 0), ("[SEP]", 1)]
    )
    assert special_template(tokenizer) is None


def test_export_is_reused(model_dir: str, onnx_cache: Path) -> None:
    """A second embedder on the same cache loads the export instead of exporting again."""
    model_file = export_dir(onnx_cache) / MODEL_FILE
    before = model_file.stat().st_mtime_ns
    again = SentenceTransformerEmbedder(model_dir, onnx_cache, backend="onnx-int8")
    assert again.model.export_dir == model_file.parent
    assert model_file.stat().st_mtime_ns == before
    assert not [p for p in onnx_cache.iterdir() if p.name.startswith(".")]  # no staging left


def test_broken_export_is_rebuilt(model_dir: str, onnx_cache: Path, tmp_path: Path) -> None:
    """A truncated model.onnx (a disk filled mid-copy, say) is detected and exported again."""
    broken = tmp_path / export_dir(onnx_cache).name
    shutil.copytree(export_dir(onnx_cache), broken)
    with (broken / MODEL_FILE).open("r+b") as handle:
        handle.truncate(1000)
    embedder = SentenceTransformerEmbedder(model_dir, tmp_path, backend="onnx-int8")
    [vector] = embedder.embed(["Tomato soup"])
    assert len(vector) == 384
    meta = (broken / META_FILE).read_text()
    assert sha256_file(broken / MODEL_FILE) in meta


def test_missing_onnx_runtime_falls_back_to_torch(
    model_dir: str,
    onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(
        sys.modules, "kb.embeddings.onnx.encoder", None
    )  # import now raises ImportError
    embedder = SentenceTransformerEmbedder(model_dir, onnx_cache, backend="onnx-int8")
    with caplog.at_level(logging.WARNING, logger="kb.embeddings.sentence_transformer"):
        assert len(embedder.embed(["Tomato soup"])[0]) == 384
    assert not isinstance(embedder.model, OnnxSentenceEncoder)
    assert "falling back to torch" in caplog.text


def test_settings_choose_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().embedding.backend == "onnx-int8"
    monkeypatch.setenv("KB_EMBEDDING__BACKEND", "torch")
    assert Settings().embedding.backend == "torch"
    monkeypatch.setenv("KB_EMBEDDING__BACKEND", "onnx")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("KB_EMBEDDING__BACKEND")
    monkeypatch.setenv("KB_EMBEDDING__THREADS", "3")
    assert Settings().embedding.threads == 3
    for bad in ("-1", "1000"):
        monkeypatch.setenv("KB_EMBEDDING__THREADS", bad)
        with pytest.raises(ValidationError):
            Settings()
    monkeypatch.delenv("KB_EMBEDDING__THREADS")
    container = build_container(make_settings(tmp_path / "data", embedding__backend="torch"))
    try:
        assert container.embedder.backend == "torch"
    finally:
        container.close()
    with pytest.raises(ValueError):
        SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2", tmp_path, backend="tf")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flags", "isa"),
    [
        ("fpu sse2 avx2 avx512f avx512bw avx512_vnni", "avx512_vnni"),
        ("fpu sse2 avx2 avx512f avx512bw", "avx512"),
        ("fpu sse2 avx2 avx_vnni", "avx_vnni"),
        ("fpu sse2 avx avx2 fma", "avx2"),
        ("fpu sse2", "generic"),
    ],
)
def test_cpu_isa_is_read_from_cpu_flags(tmp_path: Path, flags: str, isa: str) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n"
    )
    assert cpu_isa(cpuinfo) == isa
    assert cpu_isa(tmp_path / "absent") == "generic"


def test_one_export_per_model_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative and absolute spellings of one model directory once exported twice."""
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    relative = export_dir_for("model", tmp_path, "avx2")
    assert relative == export_dir_for(str(tmp_path / "model"), tmp_path, "avx2")
    assert relative != export_dir_for("model", tmp_path, "avx512_vnni")


def test_a_graph_of_another_shape_keeps_the_product_in_fp32(tmp_path: Path) -> None:
    """The outlier side path is built only on the graph it knows (BERT's traced names); any
    other graph is left as it is, with the first feed-forward product kept in fp32."""
    import onnx
    from onnx import helper, numpy_helper

    from kb.embeddings.onnx.recipe import _split_outliers

    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="dense")],
        "other",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        [weight],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    before = path.read_bytes()
    assert _split_outliers(path, model=None, names=["x"]) == FP32_NODES
    assert path.read_bytes() == before
