"""The code printed on a letter (its QR code and, beside it, in words): which policy and which letter case it
answers, with a check value so that a misread or altered code is caught when the signed receipt comes back.
The check value is not a secret: the applicant's signature is the evidence, the code only finds the case."""

from __future__ import annotations

import hashlib
import re

PREFIX = "HFLETTER"  # what a scanner reads first: this is a huifang callback letter, format 1
_CODE = re.compile(rf"^{PREFIX}1\|(?P<policy>[^|]+)\|(?P<case>\d+)\|(?P<check>[0-9A-F]{{8}})$")


class BadLetterCode(ValueError):
    """Not a letter code, or its check value does not match (misread or altered)."""


def check_value(policy_no: str, case_id: int) -> str:
    return hashlib.sha256(f"{policy_no}|{case_id}".encode()).hexdigest()[:8].upper()


def letter_code(policy_no: str, case_id: int) -> str:
    """HFLETTER1|<policy_no>|<case_id>|<check>."""
    return f"{PREFIX}1|{policy_no}|{case_id}|{check_value(policy_no, case_id)}"


def read_letter_code(text: str) -> tuple[str, int]:
    """(policy_no, case_id) from a scanned code; BadLetterCode when it is not one or does not check."""
    found = _CODE.match(text.strip())
    if found is None:
        raise BadLetterCode(f"{text!r} is not a callback letter code")
    policy_no, case_id = found["policy"], int(found["case"])
    if found["check"] != check_value(policy_no, case_id):
        raise BadLetterCode(f"{text!r}: the check value does not match (misread or altered)")
    return policy_no, case_id
