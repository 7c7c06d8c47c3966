"""Masking e-mail addresses and phone numbers in text before it is stored.

Phone numbers are recognised in international form (``+33 6 12 34 56 78``, ``+1 (555)
123-4567``, ``0033 6 12 34 56 78``, ``+33 (0)6 12 34 56 78``) and in the French national form
(ten digits starting with 0: ``06 12 34 56 78``, ``06.12.34.56.78``, ``0612345678``). Numbers
without a leading ``+``, ``00`` or ``0`` (prices, years, order numbers, dates) are left alone.
Every pattern is linear: no nested quantifiers over the same characters.
"""

from __future__ import annotations

import re

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
_SEP = r"[ .\-\u00a0]?"
# +CC or 00CC, an optional "(0)" or area code in brackets, then 6 to 13 digits in groups.
_INTERNATIONAL = rf"(?:\+|\b00)[1-9]\d{{0,2}}{_SEP}(?:\(\d{{1,4}}\){_SEP})?(?:\d{_SEP}){{5,12}}\d"
# French national numbers: 0 then nine digits, in pairs or not.
_FRENCH = rf"\b0[1-9](?:{_SEP}\d\d){{4}}"
_PHONE = re.compile(rf"(?:{_INTERNATIONAL}|{_FRENCH})(?!\d)")


def mask_emails(text: str) -> str:
    """``text`` with every e-mail address replaced by ``[email]``."""
    return _EMAIL.sub(EMAIL_MASK, text)


def mask_phones(text: str) -> str:
    """``text`` with every phone number (international or French) replaced by ``[phone]``."""
    return _PHONE.sub(PHONE_MASK, text)


def mask_pii(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers masked."""
    return mask_phones(mask_emails(text))
