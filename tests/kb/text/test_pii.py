"""E-mail addresses and phone numbers (international and French formats) are masked; numbers
that are not phone numbers are left alone."""

from __future__ import annotations

import pytest

from kb.text.pii import mask_pii


@pytest.mark.parametrize(
    "text",
    [
        "ada@example.com",
        "ada.lovelace+kb@mail.example.co.uk",
        "jean-pierre.dupont@sous-domaine.exemple.fr",
    ],
)
def test_email_addresses_are_masked(text: str) -> None:
    assert mask_pii(f"Write to {text}, thanks.") == "Write to [email], thanks."


@pytest.mark.parametrize(
    "text",
    [
        "+33 6 12 34 56 78",
        "+33612345678",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "01 23 45 67 89",
        "+1 (555) 123-4567",
        "+44 20 7946 0958",
        "+49 30 901820",
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    assert mask_pii(f"Call {text} today") == "Call [phone] today"


@pytest.mark.parametrize(
    "text",
    [
        "The plan costs 1999 EUR a year.",
        "Order 123456789 shipped on 2024-01-15.",
        "Pi is 3.14159265.",
        "ISBN 978-2-07-036822-8",
        "Version 10.2.3 fixes it.",
        "an @mention and a@b",
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_several_in_one_message() -> None:
    text = "Moi c'est Léa, lea@exemple.fr ou au 07 98 76 54 32 (ou +33 7 98 76 54 32)."
    assert mask_pii(text) == "Moi c'est Léa, [email] ou au [phone] (ou [phone])."


def test_masking_is_linear_on_hostile_input() -> None:
    """A long run of digits and separators must not backtrack for ages."""
    hostile = "+3" + "3 " * 20_000 + "x" + "a." * 20_000 + "@"
    assert "[phone]" in mask_pii(hostile)
