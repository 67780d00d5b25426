"""The next channel of a callback (pure)."""

from __future__ import annotations

import pytest

from channels.sequence import next_channel
from kit.vocab import CallbackChannel

P, E, L, V = CallbackChannel.PHONE, CallbackChannel.ECALLBACK, CallbackChannel.LETTER, CallbackChannel.VISIT


@pytest.mark.parametrize(("sequence", "current", "tried", "expected"), [
    ((P, E, L), P, (), E),
    ((P, E, L), E, (P,), L),
    ((P, E, L), L, (P, E), None),
    ((P, E, L), P, (E,), L),  # the e-callback ran already (the applicant chose it first): not again
    ((P,), P, (), None),
    ((E, P, L), E, (), P),  # an e-callback-first campaign
    ((P, E, L), V, (P,), None),  # a branch's visit has no automatic successor
])
def test_the_next_channel_is_the_first_untried_one_after_the_current(
        sequence: tuple[CallbackChannel, ...], current: CallbackChannel, tried: tuple[CallbackChannel, ...],
        expected: CallbackChannel | None) -> None:
    assert next_channel(sequence, current, tried) is expected
