"""An answer cut into claims: its sentences, and the clauses of a sentence that joins two facts.

Citation markers ("[1]", "[2][3]", "[1, 2]") belong to the claim they follow; a clause with no
marker of its own takes the sentence's nearest one. Lead-ins ("Here is what I found:"),
greetings, questions and refusals are not claims, and an attribution in front of a claim
("According to the handbook, ...") is left out of its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.verify.sentences import Span, sentence_spans
from engine.verify.text import wordset

MARKER = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_FINAL_MARKER = re.compile(r"\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]$")
_TRAILING = re.compile(r"[\s.!?…;:,\"'”’»)*_]+$")
_LEADING = re.compile(
    r"(?:[\s\"'“‘«(*_#]|(?:sure|certainly|of course|yes|no|great question|good question|"
    r"bien sûr|oui|non|en effet|tout à fait)\s*[,!.]\s)+",
    re.I,
)
_ATTRIBUTION = re.compile(
    r"(?i)(?:according to|based on|as (?:stated|described|explained|noted) in|per|selon|"
    r"d['’]après|conformément à|comme (?:indiqué|précisé) dans)\s[^,;:]{1,60}[,:]\s*"
    r"|(?:the |le |la |les )?(?:handbook|passages?|documents?|sources?|text|policy|guide|"
    r"manuel|document|texte)\s(?:\[\d+\]\s)?(?:says|states|mentions|notes|indicates|explains|"
    r"indique|précise|explique|dit)(?: that| que| qu['’])?\s*"
)
_LEAD_IN = re.compile(
    r"(?i)(?:here(?: is|['’]s| are)|voici|voilà|in (?:short|summary|brief)|to summari[sz]e|"
    r"en (?:résumé|bref)|(?:the|my) (?:short )?answer(?: is)?|la réponse(?: est)?|"
    r"(?:this is )?what i found|ce que j['’]ai trouvé)\b[^:.!?]{0,60}:\s+"
)
_LABEL = re.compile(r"^(?:\*\*[^*]+\*\*|__[^_]+__|#+\s.*)$")
_GREETING = re.compile(
    r"(?i)^(?:hi|hello|hey|dear|bonjour|salut|thanks?|thank you|merci|sure|certainly|"
    r"of course|bien sûr|great question|good question|happy to help)\b"
)
_CLOSER = re.compile(
    r"(?i)^(?:i hope this helps|hope this helps|let me know|feel free|please (?:contact|ask)|"
    r"n['’]hésitez pas|j['’]espère que cela)\b"
)
_REFUSAL = re.compile(
    r"(?i)\b(?:does not contain (?:an|the) answer|do not contain the answer|i (?:don['’]t|do "
    r"not) know|i['’]m not sure|no information (?:about|on)|je ne sais pas|ne contiennent pas)\b"
)
# The patterns above are used with ``match(text, pos)``, which anchors them at ``pos``
# (a ``^`` would only match at the start of the whole answer).
# Connectors between two clauses, tried in this order; "," before "and" is part of it.
_CONNECTOR = re.compile(r"\s*;\s*|,?\s+(?:and|but|whereas|et|mais|tandis que|alors que)\s+")
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_VERBS = wordset(
    """is are was were be been am has have had do does did can could may might must shall
    should will would get gets got need needs requires require include includes contain
    contains allow allows offer offers provide provides give gives take takes make makes run
    runs pay pays open opens close closes start starts end ends last lasts cost costs remain
    remains become becomes carry carries work works apply applies receive receives keep keeps
    est sont était étaient sera seront a ont avait avaient aura auront peut peuvent pourra
    doit doivent devra faut fait font va vont permet permettent contient comprend comprennent
    inclut incluent reste restent existe existent coûte coûtent dure durent reçoit reçoivent
    dispose disposent offre offrent"""
)
_SUBJECT_STARTS = wordset(
    """the a an this that these those each every all some most many no any its their his her
    our your my it they he she we you i there one le la les l un une des ce cet cette ces
    chaque tout toute tous toutes son sa ses leur leurs notre nos votre vos il elle ils elles
    on nous vous je j cela ceci ça aucun aucune certains plusieurs"""
)


@dataclass(frozen=True)
class Claim:
    """One checkable statement of an answer.

    ``start``/``end`` span the claim's words in the answer (its own markers and the sentence's
    final punctuation left out); ``text`` is those words with any inner markers removed.
    ``cited`` are the passage numbers it cites, its own markers or else its sentence's;
    ``markers`` the spans of its own marker groups (leading space included); ``sentence`` the
    span of the whole sentence it comes from.
    """

    text: str
    start: int
    end: int
    cited: tuple[int, ...]
    markers: tuple[Span, ...] = ()
    sentence: Span = (0, 0)


@dataclass(frozen=True)
class _Group:
    span: Span
    numbers: tuple[int, ...]


def split_claims(answer: str) -> list[Claim]:
    """The claims of ``answer`` in reading order."""
    claims: list[Claim] = []
    for start, end in sentence_spans(answer):
        claims.extend(_sentence_claims(answer, start, end))
    return claims


def _sentence_claims(answer: str, start: int, end: int) -> list[Claim]:
    groups = [
        _Group((m.start(), m.end()), tuple(int(n) for n in re.findall(r"\d+", m.group(1))))
        for m in MARKER.finditer(answer, start, end)
    ]
    if _skipped(MARKER.sub("", answer[start:end]).strip()):
        return []
    begin = _claim_start(answer, start, end)
    pieces = _clauses(answer, begin, _words_end(answer, begin, end))
    claims = []
    for index, (s, e) in enumerate(pieces):
        next_start = pieces[index + 1][0] if index + 1 < len(pieces) else end
        own = [g for g in groups if s <= g.span[0] and g.span[1] <= next_start]
        inherited = own or _nearest(groups, e)
        text = " ".join(MARKER.sub(" ", answer[s:e]).split())
        cited = tuple(dict.fromkeys(n for g in inherited for n in g.numbers))
        claims.append(Claim(text, s, e, cited, tuple(g.span for g in own), (start, end)))
    return [c for c in claims if len(_WORD.findall(c.text)) >= 2]


def _skipped(text: str) -> bool:
    """Lead-ins, questions, greetings, closers, refusals and bare labels are not claims."""
    if not text or text.endswith((":", "?")) or _REFUSAL.search(text) or _CLOSER.match(text):
        return True
    tokens = [t.casefold() for t in _WORD.findall(text)]
    if len(tokens) < 2 or (_GREETING.match(text) and len(tokens) <= 4):
        return True
    if _LABEL.match(text):
        return True
    label = len(tokens) < 4 and not text.endswith((".", "!", "…"))
    return label and not any(t[:1].isdigit() for t in tokens)


def _claim_start(answer: str, start: int, end: int) -> int:
    begin = start
    for pattern in (_LEADING, _LEAD_IN, _LEADING):
        lead = pattern.match(answer, begin, end)
        begin = lead.end() if lead else begin
    attribution = _ATTRIBUTION.match(answer, begin, end)
    return attribution.end() if attribution else begin


def _words_end(answer: str, begin: int, end: int) -> int:
    """Where words stop before ``end``: ahead of final punctuation and marker groups."""
    cut = end
    while True:
        trailing = _TRAILING.search(answer, begin, cut)
        new = trailing.start() if trailing else cut
        marker = _FINAL_MARKER.search(answer, begin, new)
        new = marker.start() if marker else new
        if new == cut:
            return cut
        cut = new


def _nearest(groups: list[_Group], end: int) -> list[_Group]:
    after = [g for g in groups if g.span[0] >= end]
    if after:
        return [after[0]]
    return [groups[-1]] if groups else []


def _clauses(answer: str, start: int, end: int) -> list[Span]:
    """The sentence's words cut at connectors joining two full clauses (conservative)."""
    pieces: list[Span] = []
    cursor = start
    for match in _CONNECTOR.finditer(answer, start, end):
        left = MARKER.sub(" ", answer[cursor : match.start()])
        right = MARKER.sub(" ", answer[match.end() : end])
        semicolon = ";" in match.group()
        if _is_clause(left, subject_needed=False) and _is_clause(
            right, subject_needed=not semicolon
        ):
            pieces.append((cursor, _words_end(answer, cursor, match.start())))
            cursor = match.end()
    pieces.append((cursor, end))
    return pieces


def _is_clause(text: str, subject_needed: bool) -> bool:
    tokens = [t.casefold() for t in _WORD.findall(text)]
    if len(tokens) < 3:
        return False
    has_verb = any(_verbish(t) for t in tokens)
    if not subject_needed:
        return has_verb or any(t.isdigit() for t in tokens)
    first = _WORD.findall(text)[0]
    subject = (
        tokens[0] in _SUBJECT_STARTS
        or first[:1].isupper()
        or first[:1].isdigit()
        or (not _verbish(tokens[0]) and any(_verbish(t) for t in tokens[1:4]))
    )
    return subject and has_verb


def _verbish(token: str) -> bool:
    if token in _VERBS:
        return True
    if len(token) > 4 and token.endswith("ed"):
        return True
    return len(token) > 5 and token.endswith("ent") and not token.endswith("ment")
