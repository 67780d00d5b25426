import pytest

from intake.phones import normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("010-62554999", "+861062554999"),
        ("(0755) 8888 1234", "+8675588881234"),
    ],
)
def test_valid_numbers_become_e164(raw: str, e164: str) -> None:
    phone = normalize_phone(raw)
    assert phone.valid
    assert phone.e164 == e164
    assert phone.stored == e164


@pytest.mark.parametrize("raw", ["1380013800", "12345678901", "021-1234", "400-820-8820", "95519", "无", "abc"])
def test_invalid_numbers_keep_what_was_given(raw: str) -> None:
    phone = normalize_phone(raw)
    assert not phone.valid
    assert phone.stored == phone.raw != ""
