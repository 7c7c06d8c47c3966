"""Words for comparison: tokens, stopwords (English and French), language guess, stems."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer

from engine.verify.numbers import NUMBER_WORDS

# Words cut at anything but letters, digits and inner hyphens; French elisions ("l'", "n'",
# "qu'") become words of their own, and English "n't" becomes "not" before tokenising.
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_ELISION = re.compile(r"(?i)\b([cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’](?=\w)")
_CONTRACTIONS = (
    (re.compile(r"(?i)\bcan['’]t\b"), "can not"),
    (re.compile(r"(?i)\bwon['’]t\b"), "will not"),
    (re.compile(r"(?i)\bcannot\b"), "can not"),
    (re.compile(r"(?i)n['’]t\b"), " not"),
    (re.compile(r"(?i)['’](s|re|ve|ll|d|m)\b"), ""),
)


def wordset(spelt: str) -> frozenset[str]:
    """The whitespace-separated words of ``spelt``, as a set (for word lists in the source)."""
    return frozenset(spelt.split())


ENGLISH_STOPWORDS = wordset(
    """a about above across after again against all almost along also although always am among
    an and another any anyone anything are around as at be became because been before being
    below between both but by can could did do does doing done down during each either else
    etc even ever every few for from further get gets got had has have having he her here hers
    herself him himself his how however i if in into is it its itself just least let like may
    me might mine more most much must my myself near neither nor of off often on once one only
    onto or other others otherwise our ours ourselves out over own per perhaps quite rather
    really same shall she should since so some something such than that the their theirs them
    themselves then there these they this those though through thus to too under until up upon
    us very via was we well were what when where whether which while who whom whose why will
    with within would yet you your yours yourself yourselves s t"""
)
FRENCH_STOPWORDS = wordset(
    """a à afin ai aie aient ainsi alors as au aucun aucune aupres auprès aussi autre autres aux
    avaient avais avait avant avec avez aviez avoir avons ayant c ça car ce ceci cela celle
    celles celui cependant certains ces cet cette ceux chacun chaque chez ci comme comment
    concernant d dans de des desquels deux donc dont du elle elles en encore entre es est et
    étaient étais était étant été être eu eux fait faut furent fut grâce hors ici il ils j je
    jusqu jusque l la laquelle le lequel les lesquels leur leurs lors lorsqu lorsque lui m ma
    mais me même mes moi mon n ne ni nos notre nous on ont ou où par parce parmi pas pendant
    peu peut peuvent peux plupart pour pourquoi pourra pourrait puis puisqu puisque qu quand que
    quel quelle quelles quels qui quoi s sa sans se selon ses si sien soi soit son sont sous
    suis sur t ta te tes toi ton tous tout toute toutes très tu un une vers via voici voilà vos
    votre vous y"""
)
# Words that only carry grammar or hedging in either language; never content.
STOPWORDS = ENGLISH_STOPWORDS | FRENCH_STOPWORDS
_FRENCH_ONLY = FRENCH_STOPWORDS - ENGLISH_STOPWORDS
_ENGLISH_ONLY = ENGLISH_STOPWORDS - FRENCH_STOPWORDS
# Negation cues (after contractions are spelt out and elisions split): polarity, not content.
NEGATIONS = wordset(
    "not no never none nobody nothing nowhere neither nor without cannot "
    "ne n pas jamais aucun aucune sans rien nul nulle ni non"
)
_STEMMERS = {"en": SnowballStemmer("english"), "fr": SnowballStemmer("french")}


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents: "Élève" -> "eleve"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise_contractions(text: str) -> str:
    """English contractions spelt out ("can't" -> "can not"), possessive 's dropped."""
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    """Lower-cased words in order, elisions split off and English contractions spelt out."""
    text = _ELISION.sub(lambda m: m.group(1) + " ", normalise_contractions(text))
    found: list[str] = []
    for match in _WORD.finditer(text.casefold()):
        token = match.group()
        # Hyphenated compounds count as their parts too ("full-time" -> "full", "time").
        found.extend(token.split("-") if "-" in token else (token,))
    return found


def language(tokens: list[str]) -> str:
    """'fr' when French grammar words outnumber English ones, else 'en'."""
    french = sum(t in _FRENCH_ONLY for t in tokens)
    english = sum(t in _ENGLISH_ONLY for t in tokens)
    return "fr" if french > english else "en"


@lru_cache(maxsize=65536)
def stem(word: str, lang: str) -> str:
    """The word's Snowball stem in ``lang``, accents folded."""
    return fold(_STEMMERS[lang].stem(word))


def content_stems(tokens: list[str], lang: str) -> list[str]:
    """Stems of the content words (no stopwords, no numbers: facts check those), in order."""
    return [
        stem(t, lang)
        for t in tokens
        if t not in STOPWORDS and t not in NUMBER_WORDS and not t.isdigit() and t not in NEGATIONS
    ]
