"""The SIDs the harness mints where Twilio would: calls (`CallSid`, an agent leg's `DialCallSid`) and recordings
(`RecordingSid`). Shaped as Twilio's: two capital letters naming the resource, then 32 lower-case hex digits
(34 characters).

Random, as Twilio's are, so simulations in separate processes (one `huifang simulate call` after another, a
campaign after a call, the harness beside a server) never reuse one on the same database. A counter restarted
at 1 in every process did: the second `huifang simulate call` got `CA…0001` again, the webhooks took it for the
first call delivered again and answered with that call's documents, and the command reported the first call's
transcript and result. Nothing in the harness depends on the SIDs' values, so randomness costs no
reproducibility: what a simulation does depends on its clock, personas and data only.
"""

from __future__ import annotations

import re
import uuid

CALL = "CA"
RECORDING = "RE"


def mint(prefix: str) -> str:
    """A new SID for the resource named by `prefix` (CALL, RECORDING): unique across processes and runs."""
    if not re.fullmatch(r"[A-Z]{2}", prefix):
        raise ValueError(f"a Twilio SID prefix is two capital letters, not {prefix!r}")
    return prefix + uuid.uuid4().hex
