from datetime import date

import pytest

from intake.identity import check_char, make_resident_id, mask_id, parse_resident_id
from intake.problems import ValueProblem
from intake.record import RowError


def refusal(text: str) -> RowError:
    """The import report's problem for `text` in the applicant's ID column."""
    with pytest.raises(ValueProblem) as caught:
        parse_resident_id(text)
    return caught.value.problem.at(2, "applicant_id_no", **caught.value.params)


def test_a_published_example_id_validates() -> None:
    # GB 11643-1999's worked example: 11010519491231002X
    parsed = parse_resident_id("11010519491231002x")
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.male is False


def test_a_wrong_check_character_is_named() -> None:
    problem = refusal("110105194912310021")
    assert problem.error == "applicant_id_no (投保人证件号): resident ID checksum fails (check character should be X)"
    assert problem.error_zh == "投保人证件号「110105********0021」校验码错误（按前 17 位计算，末位应为 X），请核对证件号码"


def test_an_impossible_birth_date_is_refused() -> None:
    first17 = "11010519490231002"
    problem = refusal(first17 + check_char(first17))
    assert problem.error.endswith("resident ID holds an impossible birth date 19490231")
    assert "出生日期「19490231」不存在" in problem.error_zh


def test_the_chinese_message_masks_the_number_as_the_console_does() -> None:
    assert mask_id("370102199001011234") == "370102********1234"
    assert mask_id("E1234567") == "********"
    assert "「110105*******1002」" in refusal("11010519491231002").error_zh  # 17 characters: not an ID's shape


def test_made_ids_round_trip_with_sex() -> None:
    for male in (True, False):
        number = make_resident_id("440305", date(1990, 2, 28), 17, male)
        parsed = parse_resident_id(number)
        assert parsed.birth_date == date(1990, 2, 28)
        assert parsed.male is male
