"""NIP parsing: 18 digits that encode birth date, start of service (or PPPK appointment), sex.

Both forms in ``shared/contract.md`` are accepted: the PNS NIP and the NI PPPK.

Real rosters carry NIPs typed with spaces or dots, or mangled by spreadsheets; we clean what can
be cleaned safely and reject what cannot, with a reason an OPD admin can act on.
"""

from __future__ import annotations

import re
from datetime import date

NIP_LENGTH = 18
_SEPARATORS = re.compile(r"[\s.\-]+")
_SCIENTIFIC = re.compile(r"^\d(?:[.,]\d+)?[eE][+]?\d+$")

EARLIEST_BIRTH_YEAR = 1940
MIN_AGE_AT_SERVICE = 15


class InvalidNip(ValueError):
    """The reason is written in Indonesian for the roster report and the chat."""


def normalize_nip(raw: object, *, today: date | None = None) -> str:
    """Return the 18-digit NIP, or raise ``InvalidNip`` explaining what is wrong.

    A number that Excel stored as a float has lost its last digits: it can never be trusted,
    even when it happens to have 18 digits, so numbers from a spreadsheet are refused outright.
    """
    if isinstance(raw, bool) or raw is None:
        raise InvalidNip("NIP kosong")
    if isinstance(raw, float | int):
        raise InvalidNip(
            "NIP tersimpan sebagai angka oleh Excel dan digit terakhirnya sudah dibulatkan; "
            "format kolom NIP sebagai teks lalu isi ulang"
        )
    text = str(raw).strip()
    if not text:
        raise InvalidNip("NIP kosong")
    if _SCIENTIFIC.match(text.replace(" ", "")):
        raise InvalidNip(
            f"NIP {text!r} ditulis dalam notasi ilmiah oleh Excel dan sudah dibulatkan; "
            "format kolom NIP sebagai teks lalu isi ulang"
        )
    digits = _SEPARATORS.sub("", text)
    if not digits.isdigit() or not digits.isascii():
        raise InvalidNip(f"NIP {text!r} mengandung karakter selain angka")
    if len(digits) != NIP_LENGTH:
        raise InvalidNip(f"NIP harus 18 digit, bukan {len(digits)} digit")
    check_nip_parts(digits, today=today)
    return digits


def check_nip_parts(nip: str, *, today: date | None = None) -> None:
    """Reject a number that reads as neither a PNS NIP nor an NI PPPK.

    Both are birth date ``YYYYMMDD``, a year ``YYYY``, two digits, sex digit, 3-digit
    sequence. For a PNS the year and the two digits are the start of service (``YYYYMM``); for
    a PPPK they are the year of first appointment and a count of work agreements (01–99, so
    often above 12). The birth date and the year must be possible either way.
    """
    today = today or date.today()
    try:
        born = date(int(nip[0:4]), int(nip[4:6]), int(nip[6:8]))
    except ValueError:
        raise InvalidNip(f"tanggal lahir {nip[0:8]} pada NIP tidak mungkin") from None
    if not EARLIEST_BIRTH_YEAR <= born.year <= today.year - MIN_AGE_AT_SERVICE:
        raise InvalidNip(f"tahun lahir {born.year} pada NIP tidak mungkin")
    year, middle = int(nip[8:12]), int(nip[12:14])
    if middle == 0:
        raise InvalidNip(
            f"digit ke-13 dan 14 NIP ({nip[12:14]}) tidak mungkin: bulan TMT PNS 01–12, "
            "atau jumlah perjanjian kerja PPPK 01–99"
        )
    if year < born.year + MIN_AGE_AT_SERVICE or year > today.year + 1:
        raise InvalidNip(
            f"tahun TMT/pengangkatan {nip[8:12]} pada NIP tidak mungkin untuk kelahiran {born.year}"
        )
    if nip[14] not in "12":
        raise InvalidNip(f"digit jenis kelamin pada NIP harus 1 atau 2, bukan {nip[14]}")
    if nip[15:18] == "000":
        raise InvalidNip("nomor urut pada NIP tidak boleh 000")


def reads_as_pns(nip: str) -> bool:
    """A valid number whose digits 13–14 are a month can be a PNS NIP; above 12, only PPPK."""
    return 1 <= int(nip[12:14]) <= 12
