"""Contradictions a bag of words misses: a negated predicate, and antonyms ("allowed" against
"forbidden", "before" against "after", "obligatoire" against "facultatif")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from engine.verify.text import NEGATIONS, STOPWORDS, stem, words

# A negation's heads are the first content words in the next few words of the same clause.
_HEAD_REACH = 4
_HEADS = 2
# French "ne"/"n'" only negates with its second word; most second words negate on their own
# ("pas", "jamais", "aucun"), but "plus", "guère", "point", "personne" need the "ne" before
# them; "ne ... que" is "only", and a lone "ne" is expletive ("avant qu'il ne parte").
_FRENCH_NE = {"ne", "n"}
_AFTER_NE = {"plus", "guère", "guere", "point", "personne"}
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]]|\s(?:but|mais|except|sauf|whereas|while)\s")
# "not only X but Y" and "non seulement" do not deny X.
_NOT_NEGATING = {"not": {"only", "just", "merely", "least"}, "non": {"seulement"}}

ANTONYMS_EN = (
    ("allowed", "forbidden"), ("allowed", "prohibited"), ("permitted", "prohibited"),
    ("permitted", "forbidden"), ("allow", "forbid"), ("allow", "prohibit"),
    ("increase", "decrease"), ("increase", "reduce"), ("rise", "fall"), ("raise", "lower"),
    ("before", "after"), ("earlier", "later"), ("early", "late"), ("first", "last"),
    ("minimum", "maximum"), ("min", "max"), ("more", "less"), ("more", "fewer"),
    ("most", "least"), ("higher", "lower"), ("high", "low"), ("above", "below"),
    ("larger", "smaller"), ("largest", "smallest"), ("longer", "shorter"), ("long", "short"),
    ("included", "excluded"), ("include", "exclude"), ("inclusive", "exclusive"),
    ("mandatory", "optional"), ("required", "optional"), ("compulsory", "optional"),
    ("paid", "unpaid"), ("open", "closed"), ("enabled", "disabled"), ("enable", "disable"),
    ("accepted", "rejected"), ("accept", "reject"), ("approved", "rejected"),
    ("valid", "invalid"), ("legal", "illegal"), ("possible", "impossible"),
    ("success", "failure"), ("succeed", "fail"), ("true", "false"), ("always", "never"),
    ("internal", "external"), ("public", "private"), ("inside", "outside"),
    ("start", "end"), ("begin", "end"), ("add", "remove"), ("buy", "sell"),
    ("import", "export"), ("upper", "lower"), ("fast", "slow"), ("faster", "slower"),
    ("cheap", "expensive"), ("cheaper", "expensive"), ("hot", "cold"), ("warm", "cold"),
    ("warmer", "colder"), ("hotter", "colder"), ("warmest", "coldest"), ("warmest", "coolest"),
    ("warmer", "cooler"), ("warm", "cool"), ("require", "forbid"), ("required", "forbidden"),
    ("require", "prohibit"), ("stable", "volatile"), ("stable", "unstable"),
    ("male", "female"), ("north", "south"), ("east", "west"),
    ("win", "lose"), ("gain", "loss"), ("positive", "negative"), ("strong", "weak"),
    ("same", "different"), ("full", "part"), ("upto", "least"),
    ("lowercase", "uppercase"), ("ascending", "descending"), ("input", "output"),
    ("client", "server"), ("encrypt", "decrypt"), ("compress", "decompress"),
)  # fmt: skip
ANTONYMS_FR = (
    ("autorisé", "interdit"), ("permis", "interdit"), ("autoriser", "interdire"),
    ("obligatoire", "facultatif"), ("obligatoire", "optionnel"), ("avant", "après"),
    ("minimum", "maximum"), ("plus", "moins"), ("augmenter", "diminuer"),
    ("augmentation", "diminution"), ("hausse", "baisse"), ("inclus", "exclu"),
    ("ouvert", "fermé"), ("activer", "désactiver"), ("activé", "désactivé"),
    ("accepter", "refuser"), ("accepté", "refusé"), ("supérieur", "inférieur"),
    ("premier", "dernier"), ("début", "fin"), ("haut", "bas"), ("interne", "externe"),
    ("public", "privé"), ("vrai", "faux"), ("toujours", "jamais"), ("possible", "impossible"),
    ("gauche", "droite"), ("entrée", "sortie"), ("ajouter", "supprimer"), ("long", "court"),
    ("rapide", "lent"), ("tôt", "tard"), ("grand", "petit"), ("chaud", "froid"),
    ("valide", "invalide"), ("légal", "illégal"), ("même", "différent"), ("nord", "sud"),
    ("payé", "impayé"), ("majuscule", "minuscule"), ("client", "serveur"),
    ("chiffrer", "déchiffrer"), ("compresser", "décompresser"), ("jusqu", "moins"),
)  # fmt: skip
# Any two of a set exclude each other: "weekly" is not "monthly".
EXCLUSIVE_EN = (("daily", "weekly", "monthly", "yearly", "annually", "hourly"),)
EXCLUSIVE_FR = (("quotidien", "hebdomadaire", "mensuel", "annuel"),)
_REWRITES = (
    (re.compile(r"(?i)\bup to\b"), " upto "),
    (re.compile(r"(?i)\bat most\b"), " upto "),
    (re.compile(r"(?i)\bno more than\b"), " upto "),
    # "X rather than Y" denies Y as "not Y" would; "in no way" is a plain "not".
    (re.compile(r"(?i)\b(?:rather than|instead of|in place of|in no way|by no means)\b"), " not "),
    (
        re.compile(
            r"(?i)\b(?:plutôt que?|au lieu de?|à la place de?|en aucun cas)(?:\b|(?<=[dq])['’])"
        ),
        " non ",
    ),
)
# How far a negation reaches: its scope (content words within _SCOPE_REACH words, same
# clause) and its heads (the first _HEADS content words within _HEAD_REACH words).
_SCOPE_REACH = 6


@dataclass(frozen=True)
class Polarity:
    """What a text denies and every stem it uses: per negation, its heads (the predicate
    denied) and its scope (every content word it reaches)."""

    heads: tuple[frozenset[str], ...]
    scope: frozenset[str]
    stems: frozenset[str]

    @property
    def negated(self) -> bool:
        """Whether the text denies anything."""
        return bool(self.heads)


def polarity(text: str, lang: str) -> Polarity:
    """The negations and all word stems of ``text`` in ``lang``."""
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    heads: list[frozenset[str]] = []
    scope: set[str] = set()
    stems: set[str] = set()
    for clause in _CLAUSE_BREAK.split(text):
        tokens = words(clause)
        stems.update(stem(t, lang) for t in tokens)
        for i, token in enumerate(tokens):
            if token not in NEGATIONS:
                continue
            following = tokens[i + 1 : i + 1 + _SCOPE_REACH]
            if following and following[0] in _NOT_NEGATING.get(token, ()):
                continue
            if token in _FRENCH_NE and not _AFTER_NE & set(following[:_HEAD_REACH]):
                continue
            content = [
                stem(t, lang)
                for t in following
                if t not in STOPWORDS and t not in NEGATIONS and t not in _AFTER_NE
            ]
            near = [
                stem(t, lang)
                for t in following[:_HEAD_REACH]
                if t not in STOPWORDS and t not in NEGATIONS and t not in _AFTER_NE
            ]
            if near:
                heads.append(frozenset(near[:_HEADS]))
                scope.update(content)
    return Polarity(tuple(heads), frozenset(scope), frozenset(stems))


def negation_conflict(claim: Polarity, evidence: Polarity) -> bool:
    """One side denies a predicate (all the heads of one of its negations) that the other
    side states outside any negation of its own. Both sides denying overlapping words agree
    ("no employee may work" and "employees may not work"): each negation is matched on its
    own, so an unrelated negation both share ("non-recursive") does not excuse a denied
    predicate."""
    return _denies(claim, evidence) or _denies(evidence, claim)


def _denies(one: Polarity, other: Polarity) -> bool:
    return any(heads <= other.stems and not heads & other.scope for heads in one.heads)


def antonym_conflict(claim: Polarity, evidence: frozenset[str], lang: str) -> bool:
    """The claim uses one word of an antonym pair where the evidence (its stems) uses the
    other."""
    mine, theirs = claim.stems, evidence
    for a, b in antonym_pairs(lang):
        for word, opposite in ((a, b), (b, a)):
            if word in mine and opposite in theirs and word not in theirs and opposite not in mine:
                return True
    return False


@cache
def antonym_pairs(lang: str) -> tuple[tuple[str, str], ...]:
    """The antonym pairs as stems in ``lang`` (English pairs count in French text too)."""
    pairs = list(ANTONYMS_EN) + (list(ANTONYMS_FR) if lang == "fr" else [])
    for group in EXCLUSIVE_EN + (EXCLUSIVE_FR if lang == "fr" else ()):
        pairs += [(a, b) for i, a in enumerate(group) for b in group[i + 1 :]]
    stemmed = {(stem(a, lang), stem(b, lang)) for a, b in pairs}
    return tuple(sorted((a, b) for a, b in stemmed if a != b))
