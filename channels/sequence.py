"""Which channel comes next (pure: no database). The configured order is `channels.sequence`; a channel the
callback has already run on is not tried again, so a task moved back by hand does not loop."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from flows.vocab import CaseType
from kit.vocab import CallbackChannel

# the branch's work order for a callback off the phone that people carry out (docs/domain.md §5)
CASE_FOR: dict[CallbackChannel, CaseType] = {
    CallbackChannel.LETTER: CaseType.LETTER_CASE,
    CallbackChannel.VISIT: CaseType.IN_PERSON_VISIT_CASE,
}

CHANNEL_ZH: dict[str, str] = {
    CallbackChannel.PHONE: "电话回访", CallbackChannel.ECALLBACK: "电子化回访",
    CallbackChannel.LETTER: "信函回访", CallbackChannel.VISIT: "上门回访",
}


def next_channel(sequence: Sequence[CallbackChannel], current: CallbackChannel,
                 tried: Collection[CallbackChannel] = ()) -> CallbackChannel | None:
    """The first channel after `current` in `sequence` that has not been tried; None when there is none (or
    `current` is not in the sequence: a channel a branch chose by hand has no automatic successor)."""
    if current not in sequence:
        return None
    for channel in sequence[sequence.index(current) + 1:]:
        if channel not in tried and channel is not current:
            return channel
    return None
