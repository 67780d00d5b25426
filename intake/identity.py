"""Resident identity card numbers (居民身份证号码, GB 11643-1999): checksum, birth date and sex."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from operator import mul

from intake import problems
from intake.problems import ValueProblem

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    male: bool


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != len(_WEIGHTS):
        raise ValueError(f"{first17!r}: 17 digits are needed")
    total = sum(map(mul, map(int, first17), _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def mask_id(id_no: str) -> str:
    """370102********1234: the region and the last four, nothing in between (how staff see an ID number: the
    console, the Chinese import messages)."""
    return id_no[:6] + "*" * max(0, len(id_no) - 10) + id_no[-4:] if len(id_no) > 10 else "*" * len(id_no)


def looks_like_resident_id(text: str) -> bool:
    return len(text) == 18 and text[:17].isdigit() and (text[17].isdigit() or text[17] in "xX")


def parse_resident_id(text: str) -> ResidentId:
    """Validate an 18-character resident ID; raises ValueProblem (a ValueError: the import report's problem)."""
    number = text.strip().upper()
    if not looks_like_resident_id(number):
        raise ValueProblem(problems.ID_SHAPE, value=mask_id(text.strip()))
    if check_char(number[:17]) != number[17]:
        raise ValueProblem(problems.ID_CHECKSUM, value=mask_id(number), expected=check_char(number[:17]))
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueProblem(problems.ID_IMPOSSIBLE_BIRTH, value=mask_id(number), digits=number[6:14]) from None
    return ResidentId(number=number, birth_date=birth, male=int(number[16]) % 2 == 1)


def make_resident_id(area: str, birth: date, sequence: int, male: bool) -> str:
    """Build a valid ID (for synthetic data and tests): 6-digit area, birth date, 3-digit sequence."""
    seq = sequence % 1000
    if (seq % 2 == 1) != male:
        seq = (seq + 1) % 1000
        if (seq % 2 == 1) != male:  # pragma: no cover - 999 + 1 wraps to 0
            seq = 1 if male else 0
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)
