"""CPU the embedding runtime burns after it has answered: threads left spinning take CPU that
concurrent searches need (ONNX Runtime's pool spun ~30 ms after each run by default).

Prints, for a search's one question and for a batch, the CPU the whole process ran in the
``--idle`` seconds after each embedding (median and max of ``--rounds``): the int8 ONNX
encoder as served, a bare ONNX Runtime session with its default thread pool as configured
here (spinning stopped after each run), the same session with ONNX Runtime's defaults, and the
torch backend. Figures, not limits: tests/kb/embeddings/onnx/test_encoder.py checks that the
threads sleep.

Usage: .venv/bin/python bench/idle_cpu_bench.py [--rounds 10] [--idle 0.3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach a hub
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from kb.embeddings.onnx.encoder import new_session  # noqa: E402
from kb.embeddings.onnx.format import MODEL_FILE  # noqa: E402
from kb.embeddings.sentence_transformer import (  # noqa: E402
    SentenceTransformerEmbedder,
    extract_bundled_minilm,
)

QUESTION = ["How do I reset my password?"]
BATCH = [f"Passage {i}: the warranty covers parts and labour for two years." for i in range(32)]


def idle_cpu_ms(run: Callable[[], object], rounds: int, idle: float) -> tuple[float, float]:
    """Median and max CPU (ms) the process ran in the ``idle`` seconds after ``run()``."""
    run()  # warm up
    burned = []
    for _ in range(rounds):
        run()
        before = time.process_time()
        time.sleep(idle)
        burned.append((time.process_time() - before) * 1000)
    return statistics.median(burned), max(burned)


def session_runner(model_file: Path, stop_spinning: bool, rows: int) -> Callable[[], object]:
    """One run of a session with ONNX Runtime's default pool, spinning stopped or not."""
    import onnxruntime as ort

    if stop_spinning:
        session = new_session(model_file)
    else:
        session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    feed = {i.name: np.ones((rows, 32), dtype=np.int64) for i in session.get_inputs()}
    return lambda: session.run(None, feed)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--idle", type=float, default=0.3)
    args = parser.parse_args()
    model_dir = str(extract_bundled_minilm(REPO / "data" / "models"))
    with tempfile.TemporaryDirectory() as cache:
        int8 = SentenceTransformerEmbedder(model_dir, Path(cache), backend="onnx-int8")
        torch = SentenceTransformerEmbedder(model_dir, Path(cache), backend="torch")
        int8.embed(["export"])
        torch.embed(["load"])  # before the table: loading prints a progress bar
        print(f"cpu threads {os.cpu_count()}; CPU ms in the {args.idle} s after each call")
        print(f"{'runtime':<34} {'question':>16} {'batch of 32':>16}")
        [export] = [p for p in Path(cache).iterdir() if ".onnx-int8-" in p.name]
        rows: list[tuple[str, Callable[[list[str]], Callable[[], object]]]] = [
            ("onnx-int8 encoder (served)", lambda texts: lambda: int8.embed(texts)),
            (
                "onnx session, spinning stopped",
                lambda texts: session_runner(export / MODEL_FILE, True, len(texts)),
            ),
            (
                "onnx session, runtime defaults",
                lambda texts: session_runner(export / MODEL_FILE, False, len(texts)),
            ),
            ("torch", lambda texts: lambda: torch.embed(texts)),
        ]
        for label, runner in rows:
            cells = []
            for texts in (QUESTION, BATCH):
                median, worst = idle_cpu_ms(runner(texts), args.rounds, args.idle)
                cells.append(f"{median:6.1f} (max {worst:5.1f})")
            print(f"{label:<34} {cells[0]:>16} {cells[1]:>16}")


if __name__ == "__main__":
    main()
