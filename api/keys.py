"""API keys: made (shown once), stored as SHA-256, revoked, listed; checked on every call with its scope and
the per-key rate limit.

A key is 32 random bytes (256 bits, `secrets.token_urlsafe`) behind the prefix `hf_`. Only its SHA-256 is kept.
A slow password hash (argon2, as the console's passwords have) defends guessable secrets against a stolen
table; a 256-bit random key cannot be guessed or brute-forced from its digest, so one SHA-256 is as strong and
lets a request find its key by an indexed equality lookup instead of trying argon2 against every key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.actor import Actor, Role
from storage.models import ApiKey

POLICIES_WRITE = "policies:write"
POLICIES_READ = "policies:read"
RESULTS_READ = "results:read"
SCOPES = (POLICIES_WRITE, POLICIES_READ, RESULTS_READ)
PREFIX = "hf_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


class KeyRefused(ValueError):
    """`apikeys add|revoke` refused (a bad name or scope, a name taken, no such key)."""


class Unauthorised(Exception):
    """A call without a usable key: `code` is `unauthorized` or `key_revoked`."""

    def __init__(self, code: str, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.code, self.name = code, name  # the key's name when it is known (a revoked key)


class RateLimited(Exception):
    def __init__(self, name: str, limit: int, retry_after: int) -> None:
        super().__init__(f"the API key {name} made its {limit} calls of this minute; retry in {retry_after} s")
        self.name, self.limit, self.retry_after = name, limit, retry_after


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def actor_for(name: str) -> Actor:
    """The actor of a key's calls: `api:<name>`, the core system, every branch in view (its scopes decide which
    routes it may call)."""
    return Actor(f"api:{name}", frozenset({Role.SYSTEM}))


def parse_scopes(text: str) -> list[str]:
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise KeyRefused(f"unknown scope {', '.join(unknown)!s} (scopes: {', '.join(SCOPES)})" if unknown
                         else f"give at least one scope ({', '.join(SCOPES)})")
    return scopes


def add_key(session: Session, name: str, scopes: list[str], *, by: str, now: datetime) -> dict[str, Any]:
    """Make a key; the returned `key` is the only time it is seen. Flushed; the caller commits."""
    if not NAME.match(name):
        raise KeyRefused(f"{name!r} is not a key name (letters, digits, . _ -; at most 60)")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise KeyRefused(f"an API key named {name} exists (or existed: names of revoked keys are not reused, so "
                         "the audit trail's api:<name> always means one key)")
    key = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_sha256=digest(key), prefix=key[:10], scopes=scopes, created_at=now,
                       created_by=by))
    session.flush()
    return {"name": name, "key": key, "scopes": scopes}


def revoke_key(session: Session, name: str, *, by: str, now: datetime) -> dict[str, Any]:
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise KeyRefused(f"no API key named {name}")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, by
        session.flush()
    return {"name": row.name, "key": None, "scopes": list(row.scopes)} | _state(row)


def list_keys(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ApiKey).order_by(ApiKey.name)).all()
    return [{"name": r.name, "prefix": r.prefix, "scopes": list(r.scopes), "created_at": r.created_at.isoformat(),
             "created_by": r.created_by} | _state(r) for r in rows]


def _state(row: ApiKey) -> dict[str, Any]:
    return {"revoked": row.revoked_at is not None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    scopes: frozenset[str]
    remaining: int  # calls left this minute

    @property
    def actor(self) -> Actor:
        return actor_for(self.name)


def authenticate(session: Session, header: str | None, *, now: datetime, rate_per_minute: int) -> Caller:
    """The caller of `Authorization: Bearer KEY`, this call counted against its minute (the key's row is locked
    for the count: the limit holds across workers). Flushed; the caller commits, also when RateLimited."""
    scheme, _, key = (header or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorised("unauthorized", "an API key is required: Authorization: Bearer KEY")
    row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == digest(key)).with_for_update())
    if row is None:
        raise Unauthorised("unauthorized", "the API key is not known")
    if row.revoked_at is not None:
        raise Unauthorised("key_revoked", f"the API key {row.name} was revoked at {row.revoked_at.isoformat()}",
                           row.name)
    minute = now.replace(second=0, microsecond=0)
    if row.window_start is None or row.window_start != minute:
        row.window_start, row.window_calls = minute, 0
    row.last_used_at = now
    if row.window_calls >= rate_per_minute:
        session.flush()
        retry = int((minute + timedelta(minutes=1) - now).total_seconds()) or 1
        raise RateLimited(row.name, rate_per_minute, max(retry, 1))
    row.window_calls += 1
    session.flush()
    return Caller(row.id, row.name, frozenset(row.scopes), rate_per_minute - row.window_calls)
