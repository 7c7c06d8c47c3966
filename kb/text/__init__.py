"""Text in several languages: language detection, diacritic folding, stemming and stop words."""

from kb.text.analysis import fold, index_terms, query_terms, stemmed_languages, words
from kb.text.language import DETECTABLE, chunk_languages, detect_language, query_languages

__all__ = [
    "DETECTABLE",
    "chunk_languages",
    "detect_language",
    "fold",
    "index_terms",
    "query_languages",
    "query_terms",
    "stemmed_languages",
    "words",
]
