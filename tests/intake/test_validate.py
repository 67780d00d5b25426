from datetime import date
from decimal import Decimal

import pytest

from intake.record import PolicyRecord, RowError
from intake.validate import validate_row
from kit.settings import Settings
from kit.vocab import Channel, Gender, PaymentFrequency, ProductType
from tests.factories import policy_row, raw

TODAY = date(2026, 11, 25)


def ok(**overrides: str) -> PolicyRecord:
    result = validate_row(raw(policy_row(**overrides)), Settings(), TODAY)
    assert isinstance(result, PolicyRecord), result
    return result


def errors(**overrides: str) -> list[RowError]:
    result = validate_row(raw(policy_row(**overrides), number=7), Settings(), TODAY)
    assert isinstance(result, list), "expected the row to be rejected"
    assert all(e.row == 7 for e in result)
    return result


def columns(errs: list[RowError]) -> list[str]:
    return [e.column for e in errs]


class TestValues:
    def test_a_good_row_is_typed(self) -> None:
        record = ok(premium="12,000.50", policy_term_years="终身")
        assert record.premium == Decimal("12000.50")
        assert record.policy_term_years is None
        assert record.cooling_off_days == 15
        assert record.applicant_phone.e164 is not None

    def test_chinese_values_are_accepted(self) -> None:
        record = ok(product_type="分红", channel="银保", payment_frequency="趸交", payment_years="1",
                    applicant_gender="女", insured_is_applicant="是", is_group="否")
        assert (record.product_type, record.channel, record.payment_frequency) == (
            ProductType.PARTICIPATING, Channel.BANCASSURANCE, PaymentFrequency.SINGLE)
        assert record.applicant_gender is Gender.FEMALE
        assert record.insured_is_applicant is True

    @pytest.mark.parametrize("text", ["2026/11/12", "2026-11-12", "20261112", "2026年11月12日", "2026.11.12"])
    def test_common_date_spellings(self, text: str) -> None:
        assert ok(issue_date=text).issue_date == date(2026, 11, 12)

    def test_optional_defaults(self) -> None:
        record = ok(guaranteed_renewal="", is_group="", agent_is_applicant="", dual_recorded="")
        assert (record.guaranteed_renewal, record.is_group, record.agent_is_applicant) == (False, False, False)
        assert record.dual_recorded is None

    def test_an_invalid_phone_is_kept_not_rejected(self) -> None:
        record = ok(applicant_phone="1370000123")
        assert not record.applicant_phone.valid
        assert record.applicant_phone.stored == "1370000123"


class TestRejections:
    def test_every_problem_in_a_row_is_reported_with_its_column(self) -> None:
        errs = errors(applicant_name="", product_type="储蓄型", premium="-5")
        assert sorted(columns(errs)) == ["applicant_name", "premium", "product_type"]
        assert any("储蓄型" in e.error and "product type" in e.error for e in errs)

    @pytest.mark.parametrize(
        ("overrides", "column", "fragment"),
        [
            ({"issue_date": "2026-13-01"}, "issue_date", "not a real calendar date"),
            ({"issue_date": "next week"}, "issue_date", "not a date"),
            ({"issue_date": "2026-11-30"}, "issue_date", "in the future"),
            ({"receipt_signed_date": "2026-11-01"}, "receipt_signed_date", "before the issue date"),
            ({"receipt_logged_date": "2026-11-15"}, "receipt_logged_date", "before the signing date"),
            ({"receipt_signed_date": ""}, "receipt_signed_date", "required when the receipt is logged"),
            ({"applicant_birth_date": "2026-11-20"}, "applicant_birth_date", "after the issue date"),
            ({"policy_term_years": "0"}, "policy_term_years", "at least 1"),
            ({"payment_frequency": "single", "payment_years": "5"}, "payment_years", "single premium"),
            ({"premium": "abc"}, "premium", "not an amount"),
            ({"premium": "10.005"}, "premium", "decimal places"),
            ({"insured_is_applicant": "maybe"}, "insured_is_applicant", "Y / N"),
            ({"channel": "直销"}, "channel", "not a known channel"),
            ({"applicant_phone": ""}, "applicant_phone", "is required"),
            ({"product_type": "health", "cooling_off_days": "10"}, "cooling_off_days", "15-day minimum"),
        ],
    )
    def test_bad_values(self, overrides: dict[str, str], column: str, fragment: str) -> None:
        errs = errors(**overrides)
        assert column in columns(errs)
        assert any(fragment in e.error for e in errs if e.column == column)

    def test_resident_id_checksum(self) -> None:
        good = policy_row()["applicant_id_no"]
        bad_check = "0" if good[-1] != "0" else "1"
        errs = errors(applicant_id_no=good[:17] + bad_check)
        assert columns(errs) == ["applicant_id_no"]
        assert "checksum" in errs[0].error

    def test_resident_id_must_match_birth_date_and_sex(self) -> None:
        errs = errors(applicant_birth_date="1980-05-18", applicant_gender="M")
        messages = [e.error for e in errs if e.column == "applicant_id_no"]
        assert any("birth date" in m for m in messages)
        assert any("sex" in m for m in messages)

    def test_other_identity_documents_are_not_checksummed(self) -> None:
        assert ok(applicant_id_no="E12345678").applicant_id_no == "E12345678"

    def test_health_default_above_minimum_is_fine_and_explicit_days_win(self) -> None:
        assert ok(product_type="health", cooling_off_days="20").cooling_off_days == 20
