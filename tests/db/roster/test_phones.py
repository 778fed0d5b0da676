from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.roster.phones import InvalidPhone, normalize_phone

MOBILE_PREFIXES = ["811", "812", "813", "821", "822", "852", "855", "857", "817", "878", "896"]


@st.composite
def indonesian_mobiles(draw: st.DrawFn) -> str:
    """National significant number: 8xx plus 7–9 digits."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=9))
    return prefix + rest


def _spaced(digits: str, sep: str) -> str:
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@given(indonesian_mobiles(), st.sampled_from(["", " ", "-", "."]))
def test_every_way_of_writing_a_number_means_the_same_number(nsn: str, sep: str) -> None:
    number = phonenumbers.parse("+62" + nsn)
    expected = "+62" + nsn
    if not phonenumbers.is_valid_number(number):
        with pytest.raises(InvalidPhone):
            normalize_phone("0" + nsn)
        return
    for written in (
        "0" + _spaced(nsn, sep),
        "62" + nsn,
        "+62 " + _spaced(nsn, sep),
        "+62" + nsn,
        "0062" + nsn,
        "(0" + nsn[:3] + ") " + nsn[3:],
    ):
        assert normalize_phone(written) == expected, written


@given(indonesian_mobiles())
def test_a_number_cell_that_lost_its_leading_zero_is_recovered(nsn: str) -> None:
    if phonenumbers.is_valid_number(phonenumbers.parse("+62" + nsn)):
        assert normalize_phone(int(nsn)) == "+62" + nsn
        assert normalize_phone(float(nsn)) == "+62" + nsn


@given(st.text(alphabet="0123456789", max_size=5))
def test_too_short_numbers_are_refused(digits: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(digits)


@pytest.mark.parametrize("junk", [None, "", "   ", "+", "abc", "0812-ABCD-EFGH", 3.5])
def test_junk_is_refused(junk: object) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(junk)


def test_international_numbers_keep_their_country() -> None:
    assert normalize_phone("+65 6123 4567") == "+6561234567"
