"""Read model of a call for every front door: what was dialled, how it ended, its result and recording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kit.clock import isoformat_local
from storage.models import Call
from storage.repositories import recordings as recording_repo


@dataclass(frozen=True)
class RecordingRef:
    recording_sid: str
    status: str
    path: str | None
    sha256: str | None


@dataclass(frozen=True)
class CallView:
    call_sid: str
    started_at: datetime
    dialled_number: str | None  # as dialled then (a later phone correction does not change it)
    caller_id: str | None
    outcome: str
    flow_id: str | None
    flow_version: int | None
    end_reason: str | None
    result_class: str | None
    reason_codes: list[str]
    handoff: bool
    recording: RecordingRef | None

    def to_json(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid, "started_at": isoformat_local(self.started_at),
            "dialled_number": self.dialled_number, "caller_id": self.caller_id, "outcome": self.outcome,
            "flow": {"id": self.flow_id, "version": self.flow_version} if self.flow_id else None,
            "end_reason": self.end_reason, "result_class": self.result_class, "reason_codes": self.reason_codes,
            "handoff": self.handoff,
            "recording": ({"recording_sid": self.recording.recording_sid, "status": self.recording.status,
                           "path": self.recording.path, "sha256": self.recording.sha256} if self.recording else None),
        }


def call_view(session: Session, call: Call) -> CallView:
    recordings = recording_repo.for_call(session, call.id)
    last = recordings[-1] if recordings else None
    return CallView(
        call_sid=call.call_sid, started_at=call.started_at or call.created_at, dialled_number=call.dialled_number,
        caller_id=call.caller_id, outcome=call.outcome.value, flow_id=call.flow_id, flow_version=call.flow_version,
        end_reason=call.end_reason, result_class=call.result_class.value if call.result_class else None,
        reason_codes=list(call.reason_codes or []), handoff=call.handoff_topic is not None,
        recording=RecordingRef(last.recording_sid, last.status.value, last.path, last.sha256) if last else None)
