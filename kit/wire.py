"""Values as they arrive from outside (webhook parameters, links, URLs in logs): the shapes we accept, checked
before anything reaches a rule or the database. Pure functions, no imports of ours.

- Whole numbers are ASCII digits only (`str.isdigit` also takes "²" and "١"), without sign or spaces, and
  bounded (ids fit PostgreSQL's `integer`).
- Twilio's SIDs are two letters and 32 hex digits (`CA…` a call, `RE…` a recording): anything else never
  becomes a row, a file name or a log line of ours.
- Control characters (NUL above all: PostgreSQL refuses it in text) are refused wherever text comes in.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit

MAX_ID = 2**31 - 1  # PostgreSQL `integer`: every id column
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR are allowed
SECRET_PARAMETERS = frozenset({"token", "access_token", "code", "key", "signature", "password", "secret"})


def whole_number(raw: str, maximum: int = MAX_ID) -> int:
    """`raw` as a whole number 0…maximum; ValueError saying what is wrong otherwise (for a 400)."""
    if not raw or not raw.isascii() or not raw.isdigit():
        raise ValueError(f"must be a whole number, got {shown(raw)}")
    if len(raw.lstrip("0")) > len(str(maximum)) or int(raw) > maximum:  # no int() of 400 digits
        raise ValueError(f"must be at most {maximum}, got {shown(raw)}")
    return int(raw)


def is_call_sid(value: str) -> bool:
    return CALL_SID.fullmatch(value) is not None


def is_recording_sid(value: str) -> bool:
    return RECORDING_SID.fullmatch(value) is not None


def has_control_character(value: str) -> bool:
    return _CONTROL.search(value) is not None


def shown(value: str, limit: int = 40) -> str:
    """A value for an error message: quoted, escaped, and cut to `limit` characters."""
    return repr(value[:limit]) + ("…" if len(value) > limit else "")


def origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL without user info, lower-cased, the default port left out; None
    for anything else. Two URLs are of one origin when these are equal (media hosts, the Origin header)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def redact_query(url: str, names: frozenset[str] = SECRET_PARAMETERS) -> str:
    """`url` with the values of secret query parameters (token, code, key …) replaced by REDACTED, the rest
    as it was: for log lines.

    Request logging (the access log, a per-webhook line) should pass every URL through this: an agent's link
    carries a token in its query until it is exchanged for a cookie (ivr.web_agent)."""
    path, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = query.partition("#")
    pieces = []
    for piece in query.split("&"):
        raw_name, equals, _value = piece.partition("=")
        secret = equals and unquote_plus(raw_name).lower() in names
        pieces.append(f"{raw_name}=REDACTED" if secret else piece)
    return f"{path}?{'&'.join(pieces)}" + (f"#{fragment}" if hash_mark else "")
