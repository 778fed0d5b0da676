from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.roster.nip import InvalidNip, normalize_nip

TODAY = date(2026, 11, 22)


@st.composite
def nips(draw: st.DrawFn, *, first_year: int, last_middle: int) -> str:
    """Birth date, a year from ``first_year`` (and age 18), two digits up to ``last_middle``
    (PNS: the month of appointment; PPPK: the agreement count), sex, sequence."""
    born = draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2005, 12, 31)))
    year = draw(st.integers(min_value=max(first_year, born.year + 18), max_value=2026))
    middle = draw(st.integers(min_value=1, max_value=last_middle))
    sex = draw(st.sampled_from("12"))
    seq = draw(st.integers(min_value=1, max_value=999))
    return f"{born:%Y%m%d}{year:04d}{middle:02d}{sex}{seq:03d}"


def valid_nips() -> st.SearchStrategy[str]:
    """PNS numbers: appointed in a month of a year the holder was 18 or older."""
    return nips(first_year=1968, last_middle=12)


def valid_pppk() -> st.SearchStrategy[str]:
    """PPPK numbers: the agreement year (2019 onwards) and how many agreements."""
    return nips(first_year=2019, last_middle=99)


@given(valid_nips())
def test_valid_nips_are_accepted_unchanged(nip: str) -> None:
    assert normalize_nip(nip, today=TODAY) == nip


@given(valid_nips(), st.lists(st.sampled_from([" ", ".", "  ", "-"]), min_size=17, max_size=17))
def test_separators_between_digits_are_ignored(nip: str, seps: list[str]) -> None:
    messy = "".join(d + s for d, s in zip(nip, [*seps, ""], strict=True))
    assert normalize_nip(f"  {messy} ", today=TODAY) == nip


@given(valid_nips(), st.integers(min_value=0, max_value=17), st.sampled_from("abcX/"))
def test_letters_are_refused(nip: str, position: int, letter: str) -> None:
    with pytest.raises(InvalidNip):
        normalize_nip(nip[:position] + letter + nip[position + 1 :], today=TODAY)


@given(valid_nips(), st.integers(min_value=1, max_value=17))
def test_wrong_length_is_refused(nip: str, cut: int) -> None:
    with pytest.raises(InvalidNip, match="18 digit"):
        normalize_nip(nip[:cut], today=TODAY)
    with pytest.raises(InvalidNip, match="18 digit"):
        normalize_nip(nip + nip[:cut], today=TODAY)


@given(valid_nips(), st.sampled_from("03456789"))
def test_impossible_sex_digit_is_refused(nip: str, digit: str) -> None:
    with pytest.raises(InvalidNip, match="jenis kelamin"):
        normalize_nip(nip[:14] + digit + nip[15:], today=TODAY)


@pytest.mark.parametrize(
    ("nip", "reason"),
    [
        ("198513122010011004", "tanggal lahir"),  # month 13
        ("198502302010011004", "tanggal lahir"),  # 30 February
        ("185503122010011004", "tahun lahir"),  # born 1855
        ("198503122010001004", "bulan TMT"),  # neither a month nor an agreement count
        ("198503121990011004", "TMT"),  # in service at age 5
        ("198503122031011004", "TMT"),  # service starts in 2031
        ("199009132031211014", "TMT"),  # PPPK appointed in 2031
        ("199002302023211014", "tanggal lahir"),  # PPPK born on 30 February
        ("198503122010011000", "nomor urut"),
    ],
)
def test_impossible_dates_are_refused(nip: str, reason: str) -> None:
    with pytest.raises(InvalidNip, match=reason):
        normalize_nip(nip, today=TODAY)


@pytest.mark.parametrize("mangled", ["1.98503E+17", "1,98503E+17", "1.98503122010011E+17", "2E17"])
def test_excel_scientific_notation_is_refused(mangled: str) -> None:
    with pytest.raises(InvalidNip, match="notasi ilmiah"):
        normalize_nip(mangled, today=TODAY)


@pytest.mark.parametrize("number", [198503122010011004, 1.98503122010011e17])
def test_numbers_from_a_spreadsheet_are_refused(number: object) -> None:
    """An 18-digit number in a float has lost digits; even an int cell is not trusted."""
    with pytest.raises(InvalidNip, match="dibulatkan"):
        normalize_nip(number, today=TODAY)


@pytest.mark.parametrize(
    "nip",
    [
        "199009132023211014",  # the contract's NI PPPK example: 21 work agreements
        "198001012021131001",  # 13: not a month, so only a PPPK reading
        "197512312022992002",  # 99 agreements
        "198503122010011004",  # the contract's PNS example
    ],
)
def test_pns_and_pppk_numbers_are_both_accepted(nip: str) -> None:
    assert normalize_nip(nip, today=TODAY) == nip


@given(valid_pppk())
def test_any_pppk_agreement_count_is_accepted(nip: str) -> None:
    assert normalize_nip(nip, today=TODAY) == nip


def test_empty_is_refused() -> None:
    for empty in (None, "", "   "):
        with pytest.raises(InvalidNip, match="kosong"):
            normalize_nip(empty, today=TODAY)
