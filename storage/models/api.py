"""The core system's API keys and the answers kept for its `Idempotency-Key` header (api/, issue 20)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin


class ApiKey(IdMixin, Base):
    """A key of the core system: only the SHA-256 of the key is kept (the key is shown once, when it is made).
    `window_start`/`window_calls` count this minute's calls for the rate limit, across every worker."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(64), unique=True)  # the actor is `api:<name>`; never reused
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # hex digest of the whole key
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to tell keys apart in a list
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # api.keys.SCOPES
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]  # the minute the calls below were counted in
    window_calls: Mapped[int] = mapped_column(default=0, server_default="0")


class ApiIdempotency(IdMixin, Base):
    """The answer given to a key's first request with an `Idempotency-Key`: the same key and body again get it
    back unchanged; the same key with another body is refused. Kept `api.idempotency_keep_hours`: an older answer
    is not replayed (the key is new again) and is deleted by retention (api.policies.prune_answers)."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key", name="uq_api_idempotency_key"),)

    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))  # of the body's canonical JSON
    route: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(index=True)  # replayed for api.idempotency_keep_hours, then deleted
