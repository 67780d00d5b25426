from datetime import date

import pytest

from intake.identity import check_char, make_resident_id, parse_resident_id


def test_a_published_example_id_validates() -> None:
    # GB 11643-1999's worked example: 11010519491231002X
    parsed = parse_resident_id("11010519491231002x")
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.male is False


def test_a_wrong_check_character_is_named() -> None:
    with pytest.raises(ValueError, match="checksum fails .* should be X"):
        parse_resident_id("110105194912310021")


def test_an_impossible_birth_date_is_refused() -> None:
    first17 = "11010519490231002"
    with pytest.raises(ValueError, match="impossible birth date 19490231"):
        parse_resident_id(first17 + check_char(first17))


def test_made_ids_round_trip_with_sex() -> None:
    for male in (True, False):
        number = make_resident_id("440305", date(1990, 2, 28), 17, male)
        parsed = parse_resident_id(number)
        assert parsed.birth_date == date(1990, 2, 28)
        assert parsed.male is male
