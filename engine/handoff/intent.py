"""Whether a visitor's message asks for a person, in English or French.

Matched on a folded form (lower case, diacritics removed, apostrophes and dashes unified), so
"Je veux parler à un conseiller", "je veux parler a un conseiller" and "JE VEUX PARLER À UN
CONSEILLER" are the same request. The patterns want a verb of talking or connecting next to a
word for a person, or a message that is nothing but such a word ("agent please", "un humain
svp"): a question that merely mentions advisers or agents ("Are your advisers available on
Saturdays?", "What is a user agent?") is left to the bot.
"""

from __future__ import annotations

import re
import unicodedata

_EN_PERSON = (
    r"(?:real |live |actual )?(?:human(?: being)?|person|agent|someone|somebody|"
    r"representative|rep|operator|advis[eo]r|member of (?:your |the )?staff|staff member|"
    r"customer (?:service|support)(?: agent| representative)?|support agent)"
)
_FR_PERSON = (
    r"(?:vrai(?:e)? |veritable )?(?:humain|etre humain|personne(?: reelle| physique)?|"
    r"conseill(?:er|ere)|agent|operat(?:eur|rice)|interlocut(?:eur|rice)|quelqu ?un|"
    r"membre (?:de (?:l |votre )?equipe|du personnel)|service client)(?: humaine?| reel(?:le)?)?"
)
_EN_DET = r"(?:(?:a|an|the|some|your|one of your) )?"
_FR_DET = r"(?:(?:un|une|des|le|la|l|votre|vos|a un|a une) )?"
_END = r"(?: (?:please|pls|now|svp|stp|s il vous plait|s il te plait|merci))*[ .!?]*$"

_PATTERNS = [
    # talk / speak / chat to a person
    rf"\b(?:talk|speak|chat) (?:to|with) {_EN_DET}{_EN_PERSON}\b",
    # connect / transfer / put me through to an agent; get me a human
    rf"\b(?:connect|transfer|put|pass|get) me (?:through )?(?:(?:to|with) )?"
    rf"{_EN_DET}{_EN_PERSON}\b",
    # I want / need / would like a human (the whole message)
    rf"\b(?:want|need|like|prefer|request) {_EN_DET}{_EN_PERSON}{_END}",
    # a live agent, a human please
    r"\blive (?:agent|person|human|chat with)\b",
    rf"^(?:{_EN_DET}{_EN_PERSON}|{_FR_DET}{_FR_PERSON}){_END}",
    # parler à un humain / avec un conseiller / à quelqu'un
    rf"\b(?:parler|discuter|echanger|dialoguer|causer) (?:a|avec) {_FR_DET}{_FR_PERSON}\b",
    # mettez-moi en relation avec un conseiller, passez-moi un agent, transférez-moi
    rf"\b(?:mettre|mettez|mets|passer|passez|passe|transferer|transferez|rediriger|redirigez|"
    rf"orienter|orientez)(?: moi)?(?: en (?:relation|contact|ligne))? (?:(?:avec|a|vers) )?"
    rf"{_FR_DET}{_FR_PERSON}\b",
    # je veux / voudrais / souhaite un conseiller (the whole message)
    rf"\b(?:veux|voudrais|souhaite|souhaiterais|aimerais|desire|demande|prefere) {_FR_DET}"
    rf"{_FR_PERSON}{_END}",
    # joindre / contacter / avoir un conseiller
    rf"\b(?:joindre|contacter|avoir|appeler) {_FR_DET}{_FR_PERSON}(?! (?:immobilier|de securite"
    rf"|commercial|d entretien))\b",
]
_REQUEST = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
_MAX_CHARS = 300  # a long message is a question that happens to mention a person


def fold(text: str) -> str:
    """Lower case without diacritics; apostrophes, dashes and runs of spaces become one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"['’`´\-‐‑–—_]", " ", plain)
    return " ".join(plain.split())


def asks_for_a_person(text: str) -> bool:
    """Whether ``text`` asks to talk to a human (English or French)."""
    folded = fold(text)
    if not folded or len(folded) > _MAX_CHARS:
        return False
    return _REQUEST.search(folded) is not None
