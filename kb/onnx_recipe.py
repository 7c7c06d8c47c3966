"""The export recipe: trace to fp32 ONNX, fuse, quantise to int8 (needs torch).

Imported by ``kb.onnx_export`` only when an export must be built.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.fusion_options import FusionOptions
from onnxruntime.transformers.optimizer import optimize_model

from kb.embeddings import sha256_file
from kb.onnx_export import (
    EXPORT_FORMAT,
    FP32_NODES,
    FUSERS,
    META_FILE,
    MODEL_FILE,
    QUANTIZED_OPS,
    REDUCE_RANGE,
    SHARED_FILE,
    SHARED_MIN_BYTES,
)

logger = logging.getLogger(__name__)


def export(model_path: str, out: Path, isa: str, fingerprint: str) -> None:
    """Write the int8 export of ``model_path`` for ``isa`` into the empty directory ``out``."""
    from sentence_transformers import SentenceTransformer

    logger.info("Exporting %s to int8 ONNX for %s (once)", model_path, isa)
    # Eager attention traces to plain MatMul/Softmax, which the fuser recognises; SDPA does not.
    model = SentenceTransformer(
        model_path, device="cpu", model_kwargs={"attn_implementation": "eager"}
    ).eval()
    fp32 = out / "fp32.onnx"
    names, dimension = _trace(model, fp32)
    transformer: Any = model[0]
    fused = _fuse(fp32, transformer.auto_model.config)
    _quantize(fused, out / MODEL_FILE, isa)
    _save_shared(out / MODEL_FILE, out / SHARED_FILE)
    for leftover in {fp32, fused}:
        leftover.unlink()
    model.tokenizer.save_pretrained(str(out))
    meta = {
        "format": EXPORT_FORMAT,
        "source": fingerprint,
        "isa": isa,
        "inputs": names,
        "max_seq_length": int(model.max_seq_length or model.tokenizer.model_max_length),
        "dimension": dimension,
        "sha256": sha256_file(out / MODEL_FILE),
        "shared_sha256": sha256_file(out / SHARED_FILE),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2))


def _trace(model: Any, target: Path) -> tuple[list[str], int]:
    """Write the fp32 ONNX graph; return its input names and embedding dimension."""
    # Two texts of different lengths, so the traced graph includes padding and masking.
    sample = model.tokenizer(["a", "a longer sample sentence"], padding=True, return_tensors="pt")
    names = list(sample.keys())
    traceable, inputs = _SentenceEmbedding(model, names), tuple(sample[n] for n in names)
    with torch.no_grad(), warnings.catch_warnings():
        dimension = int(traceable(*inputs).shape[-1])
        # TracerWarnings flag shape checks in transformers' masking that hold for every input.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            traceable,
            inputs,
            str(target),
            dynamo=False,  # the dynamo exporter needs onnxscript, a dependency we do not carry
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{name: {0: "batch", 1: "sequence"} for name in names},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
        )
    return names, dimension


def _fuse(fp32: Path, config: Any) -> Path:
    fuser = FUSERS.get(str(getattr(config, "model_type", "")))
    if fuser is None:
        return fp32  # quantisation alone still pays off; fusion is a bonus for known graphs
    options = FusionOptions(fuser)
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    options.enable_bias_gelu = False
    fused = optimize_model(
        str(fp32),
        model_type=fuser,
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        optimization_options=options,
    )
    path = fp32.with_name("fused.onnx")
    fused.save_model_to_file(str(path))
    return path


def _not_from_quantizer(record: logging.LogRecord) -> bool:
    # The quantizer logs a line per tensor on the root logger; none of it is actionable.
    return "onnxruntime" not in record.pathname


def _quantize(source: Path, target: Path, isa: str) -> None:
    present = {node.name for node in onnx.load(str(source), load_external_data=False).graph.node}
    root = logging.getLogger()
    root.addFilter(_not_from_quantizer)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=QUANTIZED_OPS,
            nodes_to_exclude=[name for name in FP32_NODES if name in present],
            per_channel=True,
            reduce_range=REDUCE_RANGE[isa],
            weight_type=QuantType.QInt8,
            # Fused contrib ops defeat shape inference; their outputs are float tensors.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(_not_from_quantizer)


def _save_shared(model_file: Path, target: Path) -> None:
    """Save the model's fp32 initializers of ``SHARED_MIN_BYTES`` or more, by name."""
    graph = onnx.load(str(model_file)).graph
    tables = {
        tensor.name: numpy_helper.to_array(tensor)
        for tensor in graph.initializer
        if tensor.data_type == onnx.TensorProto.FLOAT
        and 4 * int(np.prod(tensor.dims)) >= SHARED_MIN_BYTES
    }
    with target.open("wb") as handle:
        np.savez(handle, **tables)  # type: ignore[arg-type]  # numpy's stub types **kwds too narrowly


class _SentenceEmbedding(torch.nn.Module):
    """Positional-argument view of a SentenceTransformer, which ``torch.onnx.export`` traces."""

    def __init__(self, model: Any, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The sentence embedding for one batch of tokenizer outputs."""
        return self.model(dict(zip(self.names, tensors, strict=True)))["sentence_embedding"]
