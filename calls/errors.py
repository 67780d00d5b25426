"""What a call operation refuses. Domain errors: no HTTP status codes here (the web layer maps them)."""

from __future__ import annotations


class CallError(Exception):
    """A call operation that cannot be taken; the message says why, naming the call or parameter."""


class UnknownCall(CallError):
    """No such call (or task) is stored."""


class CallConflict(CallError):
    """The call is not in a state for this: a stale turn, not handed off, no flow started."""


class OutcomeFinal(CallConflict):
    """The agent's outcome of a call whose classification is final: a change goes through the call's case."""


class BadCallInput(CallError):
    """A value the provider sent that cannot be read (a status, a timestamp)."""
