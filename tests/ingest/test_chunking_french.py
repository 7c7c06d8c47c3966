"""French text through the chunker: passages end at sentence ends, never inside "M. Dupont",
"p. ex.", « guillemets » or "3,5 %"; hostile text is chunked whole."""

from __future__ import annotations

from ingest.chunking import SentenceChunker
from ingest.parsers.base import ParsedDocument
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder

FRENCH = (
    "M. Dupont a reçu sa commande mardi. Mme Durand, p. ex., attend encore la sienne. "
    "Le taux de remboursement est de 3,5 % sur le montant total de la facture. "
    "Le service client a répondu : « Votre colis arrive demain. » Puis il a raccroché. "
    "Les frais de port, etc. sont offerts dès cinquante euros d'achat en France. "
) * 6


def test_french_passages_end_at_sentence_ends(embedder: SentenceTransformerEmbedder) -> None:
    chunker = SentenceChunker(40, 8, embedder.count_tokens, embedder.word_tokens)
    spans = chunker.split(ParsedDocument(FRENCH, None, "text/plain"))
    assert len(spans) > 4
    for span in spans:
        assert FRENCH[span.start_char : span.end_char] == span.text
        assert span.text.endswith((".", "»")), span.text
        assert not span.text.endswith(("M.", "p. ex.", "etc.")), span.text
        assert not span.text.startswith(("Dupont", "ex.", "%", "5 %", "sont offerts")), span.text


def test_marks_alone_are_chunked_whole(embedder: SentenceTransformerEmbedder) -> None:
    """Regression: 400 KB of ". " took ~5-9 s to chunk (one piece per mark); timings are in
    bench/chunking_hostile.py, this checks the text is still all chunked."""
    text = ". " * 20_000
    chunker = SentenceChunker(256, 32, embedder.count_tokens, embedder.word_tokens)
    spans = chunker.split(ParsedDocument(text, None, "text/plain"))
    assert spans and spans[0].start_char == 0 and spans[-1].end_char >= len(text) - 2
    assert all(span.text.strip(". ") == "" for span in spans)
