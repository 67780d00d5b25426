"""Reading an e-callback's key screens (the HTML snapshots kept write-once beside the recordings): in the
reader's scope, only of the page's policy, the file checked against its SHA-256, every view on the audit trail
(docs/domain.md §7, §12: traces are kept and read under the recordings' rules)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.actor import RECORDING_PLAYERS, Actor
from recordings.audit import audit
from recordings.store import RecordingStore
from storage.models import Call, EcallbackSnapshot, Policy
from storage.scope import scoped

KIND_ZH = {"identity": "身份核实页", "question": "问题页", "done": "完成确认页", "used": "已使用提示页",
           "expired": "已过期提示页", "scan": "签字问卷扫描件"}
MEDIA_TYPES = {"html": "text/html", "pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}  # by suffix


@dataclass(frozen=True)
class Kept:
    """A kept document as read: its bytes and its media type (the type it was stored as, from its name)."""

    body: bytes
    media_type: str

    @property
    def is_html(self) -> bool:
        return self.media_type == "text/html"


def media_type(path: str) -> str:
    return MEDIA_TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")


class NotViewable(LookupError):
    """Out of scope, unknown, purged, of another policy, or its file missing or changed."""


@dataclass(frozen=True)
class SnapshotRef:
    """What a page lists of one screen."""

    id: int
    kind: str
    seq: int
    sha256: str
    stored_at: datetime

    @property
    def label(self) -> str:
        return KIND_ZH.get(self.kind, self.kind)


def of_calls(session: Session, call_ids: list[int]) -> dict[int, list[SnapshotRef]]:
    """The screens kept for each of these calls (not purged), in the order they were shown."""
    out: dict[int, list[SnapshotRef]] = {}
    if not call_ids:
        return out
    stmt = (select(EcallbackSnapshot).where(EcallbackSnapshot.call_id.in_(call_ids),
                                            EcallbackSnapshot.purged_at.is_(None))
            .order_by(EcallbackSnapshot.call_id, EcallbackSnapshot.seq, EcallbackSnapshot.id))
    for shot in session.scalars(stmt):
        out.setdefault(shot.call_id, []).append(SnapshotRef(shot.id, shot.kind, shot.seq, shot.sha256,
                                                            shot.stored_at))
    return out


def read(session: Session, files: RecordingStore, actor: Actor, snapshot_id: int, *, policy_id: int,
         reason: str, now: datetime) -> Kept:
    """The screen's HTML (or a signed questionnaire's scan) for `actor`, from the page of policy `policy_id`, audited (flushed; the caller commits
    before sending it)."""
    actor.require(RECORDING_PLAYERS, "read e-callback screens")
    stmt = (select(EcallbackSnapshot, Call, Policy).join(Call, Call.id == EcallbackSnapshot.call_id)
            .join(Policy, Policy.id == Call.policy_id).where(EcallbackSnapshot.id == snapshot_id))
    row = session.execute(scoped(stmt, actor, Policy.branch_id)).one_or_none()
    if row is None or row[2].id != policy_id or row[0].purged_at is not None:
        raise NotViewable(f"no e-callback screen {snapshot_id}")
    shot, call, policy = row
    path = files.local_path(shot.path)
    try:
        body = path.read_bytes()
    except OSError:
        raise NotViewable(f"e-callback screen {snapshot_id}: its file is missing") from None
    if hashlib.sha256(body).hexdigest() != shot.sha256:
        raise NotViewable(f"e-callback screen {snapshot_id}: its file does not match its SHA-256")
    audit(session, actor=actor, action="snapshot", target=f"screen {shot.id}", now=now, reason=reason,
          detail=f"call {call.call_sid}; policy {policy.policy_no}; {shot.kind}; sha256 {shot.sha256[:16]}")
    return Kept(body, media_type(shot.path))
