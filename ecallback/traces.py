"""The e-callback's traces (docs/domain.md §7, R7): every screen shown is an event of the session (its text, the
text's SHA-256, the browser's address and user agent), and the key screens (identity, each question answered
on, the confirmation) are kept as HTML snapshots, written once with their SHA-256 in the recordings store under
the recordings' retention."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ecallback.links import by_token
from kit.settings import RecordingSettings
from recordings.retention import retain_until
from recordings.store import RecordingStore, recording_path
from storage.models import Branch, Call, EcallbackSnapshot, Policy
from storage.repositories import calls as call_repo

SNAPSHOT_KINDS = ("identity", "question", "done")  # the key screens


def record_screen(session: Session, *, token: str, kind: str, text: str, seq: int | None, html: str,
                  detail: dict[str, Any], now: datetime, files: RecordingStore,
                  settings: RecordingSettings) -> EcallbackSnapshot | None:
    """Keep a shown screen in its session's record (when the link has a session) and snapshot a key one."""
    link = by_token(session, token)
    if link is None or link.call_id is None:
        return None
    call = session.get(Call, link.call_id, with_for_update=True)
    assert call is not None
    digest = hashlib.sha256(text.encode()).hexdigest()
    call_repo.add_events(session, call, now, [{"who": "web", "kind": "screen", "topic": None, "text": text,
                                               "detail": {**detail, "screen": kind, "sha256": digest, "seq": seq}}])
    if kind not in SNAPSHOT_KINDS:
        return None
    return snapshot(session, call, kind, html, now=now, files=files, settings=settings)


def snapshot(session: Session, call: Call, kind: str, html: str, *, now: datetime, files: RecordingStore,
             settings: RecordingSettings) -> EcallbackSnapshot:
    """The screen's HTML written once and listed with its SHA-256 (`keep`)."""
    return keep(session, call, kind, html.encode(), "html", now=now, files=files, settings=settings)


def keep(session: Session, call: Call, kind: str, data: bytes, ext: str, *, now: datetime, files: RecordingStore,
         settings: RecordingSettings) -> EcallbackSnapshot:
    """A session's document (a screen's HTML, a signed questionnaire's scan) written once (the name carries the
    event and the content's hash, so a transaction rolled back after the write never collides with the next)
    and listed with its SHA-256 under the policy's recordings' retention."""
    policy = session.get(Policy, call.policy_id)
    assert policy is not None
    branch = session.get(Branch, policy.branch_id)
    assert branch is not None
    digest = hashlib.sha256(data).hexdigest()
    started = call.answered_at or call.created_at
    name = f"{call.call_sid}-{call.event_count:04d}-{kind}-{digest[:12]}"
    stored = files.put(recording_path(started, branch.code, policy.policy_no, name, ext), data)
    row = EcallbackSnapshot(call_id=call.id, seq=call.event_count, kind=kind, path=stored.path, sha256=stored.sha256,
                            size_bytes=stored.size_bytes, stored_at=now,
                            retain_until=retain_until(policy.issue_date, policy.policy_term_years, settings))
    session.add(row)
    session.flush()
    return row
