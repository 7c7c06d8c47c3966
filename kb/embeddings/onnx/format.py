"""The int8 export's format: file names, quantisation choices and fused kernels left apart."""

# Bump when the recipe below changes: caches of an older format are rebuilt.
EXPORT_FORMAT = 5
MODEL_FILE = "model.onnx"
META_FILE = "kb_export.json"  # written last: its presence and hash mark a complete export
# u8s8 products on AVX2/AVX-512 without VNNI go through VPMADDUBSW, which saturates at int16;
# ONNX Runtime recommends 7-bit weights (reduce_range) there. VNNI accumulates in int32.
REDUCE_RANGE = {
    "avx512_vnni": False,
    "avx_vnni": False,
    "avx512": True,
    "avx2": True,
    "generic": False,
}
# Per-channel weight scales keep cosine to fp32 at ~0.99; per-tensor ones (sentence-transformers'
# default) only at ~0.96. Quantising the fused Attention too is ~15% faster at the same quality;
# Gather (the embedding table) only exists when the graph was not fused.
QUANTIZED_OPS = ["MatMul", "Attention", "Gather"]
# The first layer's feed-forward (traced node names, BERT family). Its output product's int8
# activations cost the most accuracy: one of the 1,536 GELU outputs carries values ~14x larger
# than any other (MiniLM-L6: 24.7 against at most 5.8), so an activation scale per tensor rounds
# the other channels away (MS MARCO nDCG@10 0.6948 against 0.7043 in fp32). The export moves such
# channels to a small fp32 side path and quantises the rest of the product
# (kb.embeddings.onnx.recipe):
# cosine to fp32 0.9953 on 400 texts of ~192 tokens, as with the whole product in fp32; nDCG@10
# 0.7009 against 0.7034 (within batch composition's +-0.004); ~6 % faster. Where no channel
# stands out, or the graph is not the expected one, the whole product stays in fp32.
FIRST_FFN = "/model/model.0/encoder/layer.0"
FP32_NODES = [f"{FIRST_FFN}/output/dense/MatMul"]
# A channel is an outlier when its largest activation on the calibration texts is this many
# times the median channel's (MiniLM-L6: 14x for the outlier, at most 3.4x for the others).
OUTLIER_FACTOR = 8.0
MAX_OUTLIERS = 4
# Word-embedding tables up to this many weights are fused into EmbedLayerNormalization (fp32);
# larger ones (multilingual vocabularies) stay a Gather, quantised to int8 (QUANTIZED_OPS).
# all-MiniLM-L6-v2: 11.7 M (fused, as before); multilingual-e5-small: 96 M.
MAX_FUSED_EMBEDDING = 32_000_000
# model_type (config.json) -> ONNX Runtime optimizer that fuses its attention and GELU.
FUSERS = {"bert": "bert"}
# Two of ONNX Runtime's fused CPU kernels are slower than what they replace, so the export keeps
# their parts apart and sessions must not fuse them again at load:
# - the residual-add + layer norm (SkipLayerNormalization): 22% of the model's time at 144
#   tokens, against 8% for Add + LayerNormalization (embedding 1.25x faster apart);
# - the bias-add + GELU (BiasGelu): 7.3 ms per batch of 8 x 200 tokens, against 3.0 ms for Gelu
#   once the bias add has folded into the int8 product before it (embedding ~1.07x faster).
UNFUSED_SESSION_OPTIMIZERS = ["SkipLayerNormFusion", "BiasGeluFusion"]
