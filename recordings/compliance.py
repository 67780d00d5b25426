"""Compliance access to recordings: find, export bundles, playback, integrity checks, retention and purge,
disputes — every access written to the append-only audit trail (docs/domain.md §7, §12)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from kit.actor import AUDIT_READERS, RECORDING_KEEPERS, RECORDING_READERS, Actor
from kit.clock import BUSINESS_TZ, business_start_of, isoformat_local
from kit.settings import RecordingSettings
from kit.vocab import RecordingStatus
from recordings.audit import audit
from recordings.playback import NotPlayable, playable
from recordings.retention import contract_end, retain_until
from recordings.store import RecordingStore, write_private
from storage.models import Call, Policy, Recording
from storage.repositories import calls as call_repo
from storage.repositories import policies as policy_repo
from storage.repositories import recordings as recording_repo


class ComplianceError(ValueError):
    """A request the rules refuse; the message says why."""


@dataclass(frozen=True)
class Filters:
    policy_no: str | None = None
    phone: str | None = None
    since: date | None = None
    until: date | None = None
    branch_code: str | None = None
    result_class: ResultClass | None = None

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items() if v is not None) or "all"


def _rows(session: Session, actor: Actor, filters: Filters) -> list[tuple[Recording, Call, Policy]]:
    """A phone matches on its last 11 digits whatever its format; dates are business days, `until` inclusive."""
    phone_suffix = None
    if filters.phone:
        phone_suffix = "".join(ch for ch in filters.phone if ch.isdigit())[-11:]
    return recording_repo.matching(
        session, actor,
        policy_no=filters.policy_no,
        phone_suffix=phone_suffix,
        called_from=business_start_of(filters.since) if filters.since else None,
        called_before=business_start_of(date.fromordinal(filters.until.toordinal() + 1)) if filters.until else None,
        branch_code=filters.branch_code,
        result_class=filters.result_class,
    )


def view(recording: Recording, call: Call, policy: Policy) -> dict[str, Any]:
    return {
        "recording_sid": recording.recording_sid, "call_sid": call.call_sid, "policy_no": policy.policy_no,
        "started_at": isoformat_local(call.started_at or call.created_at), "duration_s": recording.duration_s,
        "sha256": recording.sha256, "path": recording.path, "status": recording.status.value,
        "retain_until": recording.retain_until.isoformat() if recording.retain_until else None,
        "result_class": call.result_class.value if call.result_class else None,
        # a pending recording: why it is not stored yet, and when the retry job tries it again
        "last_error": recording.last_error,
        "next_try_at": isoformat_local(recording.next_try_at) if recording.next_try_at else None,
    }


def find(session: Session, filters: Filters, *, actor: Actor, now: datetime) -> list[dict[str, Any]]:
    actor.require(RECORDING_READERS, "search recordings")
    found = [view(*row) for row in _rows(session, actor, filters)]
    audit(session, actor=actor, action="find", target=filters.describe(), now=now,
          detail=" ".join(f["recording_sid"] for f in found))
    return found


def export(session: Session, files: RecordingStore, policy_no: str, out: Path, *, actor: Actor, reason: str,
           now: datetime) -> dict[str, Any]:
    """A zip for a complaint or an inspection: audio, each call's transcript and result, the policy, and a
    SHA-256 manifest of everything in it."""
    actor.require(RECORDING_READERS, "export recordings")
    if not reason.strip():
        raise ComplianceError("--reason: an export must say why (a complaint, an inspection …)")
    rows = _rows(session, actor, Filters(policy_no=policy_no))
    policy = policy_repo.by_number(session, policy_no, actor=actor)
    if policy is None:
        raise ComplianceError(f"no policy {policy_no}")
    entries: dict[str, bytes] = {"policy.json": _json(_policy_json(policy))}
    calls = call_repo.for_policy(session, policy.id)
    for call in calls:
        entries[f"calls/{call.call_sid}.json"] = _json(_call_json(session, call))
    for recording, _call, _policy in rows:
        if recording.status is RecordingStatus.STORED and recording.path:
            data = files.read(recording.path)
            if hashlib.sha256(data).hexdigest() != recording.sha256:
                raise ComplianceError(f"{recording.recording_sid}: the stored file does not match its checksum: "
                                      "run huifang recordings verify")
            entries[f"audio/{recording.recording_sid}.wav"] = data
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(entries.items()))
    entries["manifest.sha256"] = manifest.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in sorted(entries.items()):
            bundle.writestr(name, data)
    write_private(out, buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    audit(session, actor=actor, action="export", target=f"policy {policy_no}", reason=reason, now=now,
          detail=f"{out} sha256={digest} " + " ".join(r.recording_sid for r, _, _ in rows))
    return {"out": str(out), "files": len(entries), "sha256": digest}


def playback(session: Session, files: RecordingStore, recording_sid: str, out: Path, *, actor: Actor,
             reason: str, now: datetime) -> dict[str, Any]:
    """Copy one recording out to listen to it (`huifang recordings play`): who may, and which recordings, is
    recordings.playback's rule, the same as the console's player."""
    try:
        played = playable(session, files, actor, recording_sid)
    except NotPlayable as exc:
        raise ComplianceError(str(exc)) from None
    write_private(out, files.read(played.path))
    audit(session, actor=actor, action="playback", target=recording_sid, reason=reason, now=now, detail=str(out))
    return {"recording_sid": recording_sid, "out": str(out)}


def verify(session: Session, files: RecordingStore, *, actor: Actor, now: datetime) -> dict[str, Any]:
    actor.require(RECORDING_KEEPERS, "verify recordings")
    checked, missing, altered = 0, [], []
    for recording in recording_repo.stored(session):
        checked += 1
        if not recording.path or not files.exists(recording.path):
            missing.append(recording.recording_sid)
        elif hashlib.sha256(files.read(recording.path)).hexdigest() != recording.sha256:
            altered.append(recording.recording_sid)
    audit(session, actor=actor, action="verify", target="all stored recordings", now=now,
          detail=f"checked {checked}, missing {missing}, altered {altered}")
    return {"checked": checked, "missing": missing, "altered": altered}


def _why_kept(recording: Recording, policy: Policy, today: date) -> str | None:
    """None when the recording may be deleted today; otherwise the reason it is kept."""
    if policy.dispute_started_on and not policy.dispute_ended_on:
        return f"a dispute open since {policy.dispute_started_on} keeps it"
    if recording.retain_until is None:
        end = contract_end(policy.issue_date, policy.policy_term_years)
        return "the contract has no end date yet (whole life): kept while it runs" if end is None else \
            "no retention date"
    if today < recording.retain_until:
        return f"kept until {recording.retain_until} (retention from the contract's end: recordings.retention_years_*, docs/configuration.md)"
    return None


def purge(session: Session, files: RecordingStore, *, actor: Actor, now: datetime, reason: str,
          recording_sid: str | None = None) -> dict[str, Any]:
    """Delete what is past retention (one recording, or all); refuse anything earlier, saying why."""
    actor.require(RECORDING_KEEPERS, "purge recordings")
    today = now.astimezone(BUSINESS_TZ).date()
    rows = recording_repo.stored_with_policy(session, actor, recording_sid)
    if recording_sid and not rows:
        raise ComplianceError(f"no stored recording {recording_sid}")
    purged: list[str] = []
    for recording, policy in rows:
        why = _why_kept(recording, policy, today)
        if why is not None:
            if recording_sid:
                raise ComplianceError(f"{recording_sid} may not be deleted: {why}")
            continue
        if recording.path:
            files.remove(recording.path)
        recording.status, recording.purged_at, recording.updated_at = RecordingStatus.PURGED, now, now
        purged.append(recording.recording_sid)
        audit(session, actor=actor, action="purge", target=recording.recording_sid, reason=reason, now=now,
              detail=f"retained until {recording.retain_until}; sha256 {recording.sha256}")
    session.flush()
    return {"purged": purged, "checked": len(rows)}


def set_dispute(session: Session, policy: Policy, started: date, ended: date | None, *, actor: Actor,
                reason: str, now: datetime, settings: RecordingSettings) -> int:
    """Record a complaint or lawsuit; the policy's recordings are kept 2 years past its end (open: kept)."""
    actor.require(RECORDING_KEEPERS, "record disputes")
    if ended is not None and ended < started:
        raise ComplianceError("--end: the dispute cannot end before it started")
    policy.dispute_started_on, policy.dispute_ended_on, policy.updated_at = started, ended, now
    recordings = recording_repo.for_policy(session, policy.id)
    changed = 0
    for recording in recordings:
        base = retain_until(policy.issue_date, policy.policy_term_years, settings, dispute_ended_on=ended)
        recording.retain_until = None if ended is None else base
        changed += 1
    audit(session, actor=actor, action="dispute", target=f"policy {policy.policy_no}", reason=reason, now=now,
          detail=f"{started} – {ended or 'open'}; {changed} recordings")
    return changed


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()


def _policy_json(policy: Policy) -> dict[str, Any]:
    fields = ("policy_no", "product_name", "product_type", "channel", "issue_date", "receipt_signed_date",
              "cooling_off_end", "applicant_name", "applicant_phone", "policy_term_years")
    return {name: getattr(policy, name) for name in fields}


def _call_json(session: Session, call: Call) -> dict[str, Any]:
    events = call_repo.events(session, call.id)
    return {
        "call_sid": call.call_sid, "started_at": isoformat_local(call.started_at or call.created_at),
        "dialled_number": call.dialled_number, "caller_id": call.caller_id,  # as dialled, not the policy's now
        "outcome": call.outcome.value, "flow": {"id": call.flow_id, "version": call.flow_version,
                                                "hash": call.flow_hash},
        "result_class": call.result_class.value if call.result_class else None,
        "reason_codes": list(call.reason_codes or []), "end_reason": call.end_reason,
        "transcript": [{"at": isoformat_local(e.at), "who": e.who, "kind": e.kind, "topic": e.topic, "text": e.text,
                        "detail": e.detail} for e in events],
    }


def audit_log(session: Session, actor: Actor, limit: int = 200) -> list[dict[str, Any]]:
    actor.require(AUDIT_READERS, "read the audit trail")
    rows = recording_repo.audit_events(session, limit)
    return [{"at": isoformat_local(a.at), "operator": a.operator, "action": a.action, "target": a.target,
             "reason": a.reason, "detail": a.detail} for a in rows]
