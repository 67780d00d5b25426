"""Compliance access to recordings: find, export bundles, playback, integrity checks, retention and purge,
disputes — every access written to the append-only audit trail (docs/domain.md §7, §12)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from kit.actor import RECORDING_KEEPERS, RECORDING_READERS, Actor
from kit.clock import BUSINESS_TZ, business_start_of, isoformat_local
from kit.settings import RecordingSettings
from kit.vocab import RecordingStatus
from recordings import bundle
from recordings.audit import TrailFilter, audit, trail
from recordings.bundle import to_json
from recordings.playback import NotPlayable, playable
from recordings.retention import contract_end, retain_until
from recordings.store import RecordingStore, write_private
from storage.models import Call, EcallbackSnapshot, Policy, Recording
from storage.repositories import calls as call_repo
from storage.repositories import policies as policy_repo
from storage.repositories import recordings as recording_repo
from storage.scope import scoped


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


def _rows(session: Session, actor: Actor, filters: Filters, *, limit: int | None = None, offset: int = 0,
          newest_first: bool = False) -> list[tuple[Recording, Call, Policy]]:
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
        result_class=filters.result_class, limit=limit, offset=offset, newest_first=newest_first,
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


def search(session: Session, filters: Filters, *, actor: Actor, now: datetime, limit: int | None = None,
           offset: int = 0, newest_first: bool = False) -> list[tuple[Recording, Call, Policy]]:
    """The recordings matching `filters` in the actor's scope (a page of them with `limit`/`offset`), audited:
    one line naming the filters and the recordings found."""
    actor.require(RECORDING_READERS, "search recordings")
    rows = _rows(session, actor, filters, limit=limit, offset=offset, newest_first=newest_first)
    audit(session, actor=actor, action="find", target=filters.describe(), now=now,
          detail=" ".join(r.recording_sid for r, _, _ in rows))
    return rows


def find(session: Session, filters: Filters, *, actor: Actor, now: datetime) -> list[dict[str, Any]]:
    return [view(*row) for row in search(session, filters, actor=actor, now=now)]


def export(session: Session, files: RecordingStore, policy_no: str, out: Path, *, actor: Actor, reason: str,
           now: datetime, name: str | None = None) -> dict[str, Any]:
    """A zip for a complaint or an inspection: audio, each call's transcript and result, the policy, and a
    SHA-256 manifest of everything in it (recordings.bundle: written to `out` entry by entry, the audio
    streamed from the store). The audit line names the bundle (`name`, else `out`) and its SHA-256."""
    actor.require(RECORDING_READERS, "export recordings")
    if not reason.strip():
        raise ComplianceError("--reason: an export must say why (a complaint, an inspection …)")
    rows = _rows(session, actor, Filters(policy_no=policy_no))
    policy = policy_repo.by_number(session, policy_no, actor=actor)
    if policy is None:
        raise ComplianceError(f"no policy {policy_no}")
    documents: dict[str, bytes] = {"policy.json": to_json(_policy_json(policy))}
    for call in call_repo.for_policy(session, policy.id):
        documents[f"calls/{call.call_sid}.json"] = to_json(_call_json(session, call))
    audio = [bundle.Audio(f"audio/{recording.recording_sid}.wav", files.local_path(recording.path),
                          recording.sha256 or "", recording.recording_sid)
             for recording, _call, _policy in rows if recording.status is RecordingStatus.STORED and recording.path]
    audio += [bundle.Audio(f"screens/{PurePosixPath(shot.path).name}", files.local_path(shot.path), shot.sha256,
                           shot.path) for shot in ecallback_snapshots(session, policy.id)]  # the e-callback's pages
    try:
        count, digest = bundle.write(out, documents, audio)
    except bundle.BundleError as exc:
        raise ComplianceError(str(exc)) from None
    audit(session, actor=actor, action="export", target=f"policy {policy_no}", reason=reason, now=now,
          detail=f"bundle {name or out} sha256 {digest}; {count} files; recordings "
                 + (" ".join(r.recording_sid for r, _, _ in rows) or "none"))
    return {"out": str(out), "files": count, "sha256": digest}


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
    for shot in ecallback_snapshots(session, None):  # the e-callback's screens, kept the same way
        checked += 1
        if not files.exists(shot.path):
            missing.append(shot.path)
        elif hashlib.sha256(files.read(shot.path)).hexdigest() != shot.sha256:
            altered.append(shot.path)
    audit(session, actor=actor, action="verify", target="all stored recordings", now=now,
          detail=f"checked {checked}, missing {missing}, altered {altered}")
    return {"checked": checked, "missing": missing, "altered": altered}


@dataclass(frozen=True)
class Kept:
    """Why a recording may not be deleted today: `why` is `dispute` (open since `on`), `whole_life` (no contract
    end yet), `no_date` (no retention date) or `retention` (kept until `on`)."""

    why: str
    on: date | None = None

    def __str__(self) -> str:
        return {"dispute": f"a dispute open since {self.on} keeps it",
                "whole_life": "the contract has no end date yet (whole life): kept while it runs",
                "no_date": "no retention date",
                "retention": f"kept until {self.on} (retention from the contract's end: recordings.retention_years_*, "
                             "docs/configuration.md)"}[self.why]


class Refused(ComplianceError):
    """A purge of one recording refused: `kept` says why."""

    def __init__(self, recording_sid: str, kept: Kept) -> None:
        super().__init__(f"{recording_sid} may not be deleted: {kept}")
        self.recording_sid, self.kept = recording_sid, kept


def why_kept(recording: Recording | EcallbackSnapshot, policy: Policy, today: date) -> Kept | None:
    """None when the recording may be deleted today; otherwise the reason it is kept."""
    if policy.dispute_started_on and not policy.dispute_ended_on:
        return Kept("dispute", policy.dispute_started_on)
    if recording.retain_until is None:
        end = contract_end(policy.issue_date, policy.policy_term_years)
        return Kept("whole_life") if end is None else Kept("no_date")
    if today < recording.retain_until:
        return Kept("retention", recording.retain_until)
    return None


def retention_view(session: Session, actor: Actor, *, now: datetime,
                   limit: int) -> list[tuple[Recording, Call, Policy, Kept | None]]:
    """The retention desk: stored recordings past their retention date (due for purge: Kept None) and those an
    open dispute keeps (with why), oldest date first, at most `limit`."""
    actor.require(RECORDING_KEEPERS, "review retention")
    today = now.astimezone(BUSINESS_TZ).date()
    return [(r, c, p, why_kept(r, p, today)) for r, c, p in recording_repo.due_or_disputed(session, actor, today, limit)]


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
        why = why_kept(recording, policy, today)
        if why is not None:
            if recording_sid:
                raise Refused(recording_sid, why)
            continue
        if recording.path:
            files.remove(recording.path)
        recording.status, recording.purged_at, recording.updated_at = RecordingStatus.PURGED, now, now
        purged.append(recording.recording_sid)
        audit(session, actor=actor, action="purge", target=recording.recording_sid, reason=reason, now=now,
              detail=f"retained until {recording.retain_until}; sha256 {recording.sha256}")
    checked = len(rows)
    if not recording_sid:  # the e-callback's screens follow the same rule
        for shot, policy in snapshots_with_policy(session, actor):
            checked += 1
            if why_kept(shot, policy, today) is None:
                files.remove(shot.path)
                shot.purged_at = now
                purged.append(shot.path)
                audit(session, actor=actor, action="purge", target=shot.path, reason=reason, now=now,
                      detail=f"retained until {shot.retain_until}; sha256 {shot.sha256}")
    session.flush()
    return {"purged": purged, "checked": checked}


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
    for shot in ecallback_snapshots(session, policy.id):
        shot.retain_until = None if ended is None else retain_until(policy.issue_date, policy.policy_term_years,
                                                                    settings, dispute_ended_on=ended)
    audit(session, actor=actor, action="dispute", target=f"policy {policy.policy_no}", reason=reason, now=now,
          detail=f"{started} – {ended or 'open'}; {changed} recordings")
    return changed


def _policy_json(policy: Policy) -> dict[str, Any]:
    fields = ("policy_no", "product_name", "product_type", "channel", "issue_date", "receipt_signed_date",
              "cooling_off_end", "applicant_name", "applicant_phone", "policy_term_years")
    return {name: getattr(policy, name) for name in fields}


def _call_json(session: Session, call: Call) -> dict[str, Any]:
    events = call_repo.events(session, call.id)
    return {
        "call_sid": call.call_sid, "channel": str(call.channel),
        "started_at": isoformat_local(call.started_at or call.created_at),
        "dialled_number": call.dialled_number, "caller_id": call.caller_id,  # as dialled, not the policy's now
        "outcome": call.outcome.value, "flow": {"id": call.flow_id, "version": call.flow_version,
                                                "hash": call.flow_hash},
        "result_class": call.result_class.value if call.result_class else None,
        "reason_codes": list(call.reason_codes or []), "end_reason": call.end_reason,
        "transcript": [{"at": isoformat_local(e.at), "who": e.who, "kind": e.kind, "topic": e.topic, "text": e.text,
                        "detail": e.detail} for e in events],
    }


def audit_log(session: Session, actor: Actor, limit: int = 200,
              filters: TrailFilter | None = None) -> list[dict[str, Any]]:
    rows = trail(session, actor, filters or TrailFilter(), limit=limit)
    return [{"at": isoformat_local(a.at), "operator": a.operator, "action": a.action, "target": a.target,
             "reason": a.reason, "detail": a.detail} for a in rows]


def ecallback_snapshots(session: Session, policy_id: int | None) -> list[EcallbackSnapshot]:
    """The key screens e-callback sessions showed (HTML kept beside the recordings), not purged: of one policy,
    or all."""
    stmt = (select(EcallbackSnapshot).join(Call, Call.id == EcallbackSnapshot.call_id)
            .where(EcallbackSnapshot.purged_at.is_(None)).order_by(EcallbackSnapshot.id))
    if policy_id is not None:
        stmt = stmt.where(Call.policy_id == policy_id)
    return list(session.scalars(stmt))


def snapshots_with_policy(session: Session, actor: Actor) -> list[tuple[EcallbackSnapshot, Policy]]:
    stmt = (select(EcallbackSnapshot, Policy).join(Call, Call.id == EcallbackSnapshot.call_id)
            .join(Policy, Policy.id == Call.policy_id).where(EcallbackSnapshot.purged_at.is_(None))
            .order_by(EcallbackSnapshot.id))
    return [(shot, policy) for shot, policy in session.execute(scoped(stmt, actor, Policy.branch_id)).all()]
