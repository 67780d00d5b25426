"""Golden flow tests: every stored case is replayed and must give the same transcript and result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.library import load_library
from tests.flows.golden_runner import GOLDEN_DIR, load_case, run_case, save_case

LIBRARY = load_library()
CASES = sorted(GOLDEN_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path) -> None:
    case = load_case(path)
    actual = run_case(case, LIBRARY)
    if os.environ.get("HUIFANG_UPDATE_GOLDEN"):
        save_case(path, case, actual)
        return
    assert actual == case["expect"]


def test_the_cases_cover_every_product_type_variant_and_end_state() -> None:
    results = [load_case(p)["expect"] for p in CASES]
    assert {r["flow"]["id"] for r in results} == {"traditional", "participating", "universal",
                                                  "investment_linked", "health"}
    assert {load_case(p).get("policy", {}).get("variant", "A") for p in CASES} == {"A", "B"}
    assert {r["end_reason"] for r in results} == {"completed", "identity_failed", "applicant_absent", "not_received",
                                                  "refused", "language_barrier", "hangup", "handed_off",
                                                  "link_requested"}
    assert {r["result_class"] for r in results} == {"standard", "sub_standard", "problem", "verification"}
