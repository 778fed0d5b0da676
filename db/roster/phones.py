"""Phone numbers, stored in E.164 so that ``0812…``, ``62812…`` and ``+62 812-…`` are one number."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "ID"
_KEEP = re.compile(r"[^\d+]")


class InvalidPhone(ValueError):
    """The reason is written in Indonesian for the roster report and the chat."""


def normalize_phone(raw: object, region: str = DEFAULT_REGION) -> str:
    """Return the number in E.164 or raise ``InvalidPhone``.

    Telegram sends a shared contact's number with or without ``+``; rosters write Indonesian
    numbers with a leading ``0`` or ``62``, or ``8…`` when a spreadsheet ate the zero. A bare
    ``62…`` is read as international, which is what every Indonesian roster means by it. Callers
    holding a number known to be international (Telegram contacts) prefix ``+`` themselves.
    """
    if raw is None or isinstance(raw, bool):
        raise InvalidPhone("nomor telepon kosong")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise InvalidPhone(f"nomor telepon {raw!r} tidak dikenali")
        raw = int(raw)
    text = str(raw).strip()
    if isinstance(raw, int) and not text.startswith(("0", "62")):
        # Excel drops the leading zero of 0812… when the column is numeric.
        text = "0" + text
    cleaned = _KEEP.sub("", text)
    if not cleaned or cleaned == "+":
        raise InvalidPhone(f"nomor telepon {text!r} tidak dikenali")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    elif cleaned.startswith("8") and region == DEFAULT_REGION:
        cleaned = "0" + cleaned  # an Indonesian mobile number that lost its leading zero
    elif not cleaned.startswith(("+", "0")):
        cleaned = "+" + cleaned
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"nomor telepon {text!r} tidak dikenali") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"nomor telepon {text!r} tidak valid")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
