"""The export recipe: trace to fp32 ONNX, fuse, quantise to int8 (needs torch).

Imported by ``kb.embeddings.onnx.export`` only when an export must be built.
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

from kb.embeddings.base import sha256_file
from kb.embeddings.onnx.format import (
    EXPORT_FORMAT,
    FIRST_FFN,
    FP32_NODES,
    FUSERS,
    MAX_FUSED_EMBEDDING,
    MAX_OUTLIERS,
    META_FILE,
    MODEL_FILE,
    OUTLIER_FACTOR,
    QUANTIZED_OPS,
    REDUCE_RANGE,
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
    keep_fp32 = _split_outliers(fused, model, names)
    _quantize(fused, out / MODEL_FILE, isa, keep_fp32)
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
    # A large vocabulary stays out of the fused EmbedLayerNormalization, whose table is fp32
    # (multilingual-e5-small: 384 MB), so its Gather is quantised with the rest (96 MB).
    table = int(getattr(config, "vocab_size", 0)) * int(config.hidden_size)
    options.enable_embed_layer_norm = table <= MAX_FUSED_EMBEDDING
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


def _quantize(source: Path, target: Path, isa: str, keep_fp32: list[str]) -> None:
    present = {node.name for node in onnx.load(str(source), load_external_data=False).graph.node}
    root = logging.getLogger()
    root.addFilter(_not_from_quantizer)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=QUANTIZED_OPS,
            nodes_to_exclude=[name for name in keep_fp32 if name in present],
            per_channel=True,
            reduce_range=REDUCE_RANGE[isa],
            weight_type=QuantType.QInt8,
            # Fused contrib ops defeat shape inference; their outputs are float tensors.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(_not_from_quantizer)


# Calibration texts for finding outlier channels: they are a property of the model (present for
# every token), so a few ordinary sentences find them.
CALIBRATION = [
    "How do I reset my password if I no longer have access to my email?",
    "The Basic plan costs 10 euros per month and includes email support.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Returns are accepted within 30 days of delivery with the original receipt.",
    "The mercury thermometer was invented by Daniel Gabriel Fahrenheit in 1714.",
    "Chroma stores the vectors; SQLite keeps the registry of documents and hashes.",
    "Wie lange dauert der Versand nach Österreich?",
    "Error 502: the upstream server did not answer in time; retry after 5 seconds.",
]


def _split_outliers(fused: Path, model: Any, names: list[str]) -> list[str]:
    """Move the outlier channels of the first feed-forward's GELU output to an fp32 side path
    (``kb.embeddings.onnx.export.FIRST_FFN``), in place; return the nodes to leave in fp32.

    ``Y = GELU(L @ W1 + b1) @ W2`` becomes ``GELU(L @ W1' + b1') @ W2' + GELU(L @ W1[:, c] +
    b1[c]) @ W2[c, :]`` where the primed tensors have the outlier channels ``c`` switched off
    (weights 0, bias -10: GELU(-10) is 0 to 22 places), so the main product's int8 activations
    are scaled to the ordinary channels. Exact in real arithmetic; returns ``FP32_NODES`` (the
    whole product stays fp32) when the graph is not the expected one or no channel stands out.
    """
    graph_model = onnx.load(str(fused))
    graph = graph_model.graph
    by_name = {node.name: node for node in graph.node}
    up = by_name.get(f"{FIRST_FFN}/intermediate/dense/MatMul")
    bias_add = by_name.get(f"{FIRST_FFN}/intermediate/dense/Add")
    down = by_name.get(FP32_NODES[0])
    tensors = {tensor.name: tensor for tensor in graph.initializer}
    if up is None or bias_add is None or down is None:
        return FP32_NODES
    bias_name = next((name for name in bias_add.input if name in tensors), None)
    if bias_name is None or up.input[1] not in tensors or down.input[1] not in tensors:
        return FP32_NODES
    activations = down.input[0]
    outliers = _outlier_channels(graph_model, model, names, activations)
    if not outliers:
        return FP32_NODES
    w_up = numpy_helper.to_array(tensors[up.input[1]]).copy()
    bias = numpy_helper.to_array(tensors[bias_name]).copy()
    w_down = numpy_helper.to_array(tensors[down.input[1]]).copy()
    side_up, side_bias, side_down = w_up[:, outliers], bias[outliers], w_down[outliers, :]
    w_up[:, outliers], bias[outliers], w_down[outliers, :] = 0.0, -10.0, 0.0
    for name, value in ((up.input[1], w_up), (bias_name, bias), (down.input[1], w_down)):
        tensors[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    prefix = f"{FIRST_FFN}/output/dense/outliers"
    graph.initializer.extend(
        numpy_helper.from_array(value.astype(np.float32), f"{prefix}/{name}")
        for name, value in (("w_up", side_up), ("bias", side_bias), ("w_down", side_down))
    )
    product = down.output[0]
    down.output[0] = f"{prefix}/main"
    side = [
        onnx.helper.make_node(
            "MatMul", [up.input[0], f"{prefix}/w_up"], [f"{prefix}/up"], name=f"{prefix}/up"
        ),
        onnx.helper.make_node(
            "Add", [f"{prefix}/up", f"{prefix}/bias"], [f"{prefix}/pre"], name=f"{prefix}/add"
        ),
        onnx.helper.make_node(
            "Gelu",
            [f"{prefix}/pre"],
            [f"{prefix}/act"],
            name=f"{prefix}/gelu",
            domain="com.microsoft",
        ),
        onnx.helper.make_node(
            "MatMul",
            [f"{prefix}/act", f"{prefix}/w_down"],
            [f"{prefix}/down"],
            name=f"{prefix}/down",
        ),
        onnx.helper.make_node(
            "Add", [f"{prefix}/main", f"{prefix}/down"], [product], name=f"{prefix}/sum"
        ),
    ]
    position = list(graph.node).index(down) + 1
    for offset, node in enumerate(side):
        graph.node.insert(position + offset, node)
    onnx.save(graph_model, str(fused))
    logger.info(
        "Export: %d outlier channel(s) of the first feed-forward kept in fp32", len(outliers)
    )
    return [f"{prefix}/up", f"{prefix}/down"]


def _outlier_channels(
    graph_model: onnx.ModelProto, model: Any, names: list[str], activations: str
) -> list[int]:
    """Channels of ``activations`` whose largest magnitude on ``CALIBRATION`` is
    ``OUTLIER_FACTOR`` times the median channel's (at most ``MAX_OUTLIERS``, largest first)."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(graph_model)  # read ``activations`` as an extra output, on a copy
    probe.graph.output.append(
        onnx.helper.make_tensor_value_info(activations, onnx.TensorProto.FLOAT, None)
    )
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    batch = model.tokenizer(CALIBRATION, padding=True, return_tensors="np")
    feed = {name: np.asarray(batch[name], dtype=np.int64) for name in names}
    (values,) = session.run([activations], feed)
    peaks = np.abs(values[np.asarray(batch["attention_mask"], dtype=bool)]).max(axis=0)
    ranked = [int(c) for c in np.argsort(-peaks)[:MAX_OUTLIERS]]
    return [c for c in ranked if peaks[c] > OUTLIER_FACTOR * float(np.median(peaks))]


class _SentenceEmbedding(torch.nn.Module):
    """Positional-argument view of a SentenceTransformer, which ``torch.onnx.export`` traces."""

    def __init__(self, model: Any, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The sentence embedding for one batch of tokenizer outputs."""
        return self.model(dict(zip(self.names, tensors, strict=True)))["sentence_embedding"]
