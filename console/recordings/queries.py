"""The recordings desk's reads: the page a playback comes from (`for=`), scoped by the actor, and what the
player include shows for each recording of a call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from cases.actions import CaseNotFound, load
from console.context import context
from kit.actor import RECORDING_PLAYERS, RECORDING_READERS, Actor
from kit.clock import BUSINESS_TZ
from recordings.playback import Availability, availability
from recordings.store import FileStore, RecordingStore
from storage.models import Call, Recording
from storage.repositories import policies as policy_repo
from storage.repositories import recordings as recording_repo

ORIGIN = re.compile(r"(?P<kind>case|policy|qa):(?P<key>[0-9A-Za-z_-]{1,64})|(?P<search>recordings)")
SEARCH_REASON = "recordings_reason"  # the session key of the reason given once per session on /console/recordings
NOTE_ZH = {
    Availability.PENDING: "录音尚未保存（正在下载，请稍后刷新）",
    Availability.ABSENT: "本次通话没有录音",
    Availability.FAILED: "录音失败，没有录音文件",
    Availability.PURGED: "录音已过保存期限，已删除",
    Availability.MISSING: "录音文件缺失，已记录为错误，请联系合规部门",
}


def recording_store() -> RecordingStore:
    """The recordings store under `[recordings] root`, the one the downloader writes and the CLI reads."""
    return FileStore(Path(context().settings.recordings.root))


class BadOrigin(ValueError):
    """`for` is missing or not `case:<id>` / `policy:<policy_no>` / `recordings` (400)."""


class NeedsReason(BadOrigin):
    """`for=recordings` before the user gave the session's reason for listening (400)."""


@dataclass(frozen=True)
class Origin:
    """The page a recording is played from: the audit trail's why, and the policy the recording must be of."""

    reason: str
    policy_id: int | None  # None: any recording in the actor's scope (the recordings desk's search)


def origin(db: Session, actor: Actor, raw: str, search_reason: str | None = None) -> Origin | None:
    """`case:<id>` (the case page), `policy:<policy_no>` (the policy page), `qa:<sample id>` (the quality review
    page of a sampled call: for the reviewers, console.qa.queries.sampled_policy), in the actor's scope, or
    `recordings` (the compliance search: for the recording readers, with the reason they gave for this session,
    `search_reason`); None when it is not there for this actor (the same 404 as an unknown recording)."""
    found = ORIGIN.fullmatch(raw)
    if found is None:
        raise BadOrigin(f"for={raw!r}: expected case:<id>, policy:<policy_no> or recordings")
    if found["search"]:
        if not actor.has(RECORDING_READERS):
            return None
        if not search_reason:
            raise NeedsReason("for=recordings: no reason given for this session yet")
        return Origin(search_reason, None)
    key = found["key"]
    if found["kind"] == "qa":
        if not key.isdigit():
            raise BadOrigin(f"for={raw!r}: a sample id is a number")
        from console.qa.queries import sampled_policy  # the quality desk imports this module

        policy_id = sampled_policy(db, actor, int(key))
        return None if policy_id is None else Origin(f"质检复核（抽样 {key}）收听", policy_id)
    if found["kind"] == "case":
        if not key.isdigit():
            raise BadOrigin(f"for={raw!r}: a case id is a number")
        try:
            case, _code = load(db, actor, int(key))
        except CaseNotFound:
            return None
        return Origin(f"在工单 {case.id} 页面收听", case.policy_id)
    policy = policy_repo.by_number(db, key, actor=actor)
    return None if policy is None else Origin(f"在保单 {policy.policy_no} 页面收听", policy.id)


@dataclass(frozen=True)
class RecordingView:
    """One recording as console/templates/console/recordings/player.html shows it: a label, and either the
    audio URL or a note saying why there is nothing to play."""

    label: str  # 通话录音 2026-11-25 10:00 · 时长 1 分 05 秒
    src: str | None
    note: str | None


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "时长未知"
    return f"时长 {seconds // 60} 分 {seconds % 60:02d} 秒" if seconds >= 60 else f"时长 {seconds} 秒"


def _label(call: Call, recording: Recording | None) -> str:
    started = (call.started_at or call.created_at).astimezone(BUSINESS_TZ)
    seconds = recording.duration_s if recording is not None and recording.duration_s is not None else call.duration_s
    return f"通话录音 {started:%Y-%m-%d %H:%M} · {_duration(seconds)}"


def recording_views(db: Session, files: RecordingStore, actor: Actor, call: Call, origin_key: str) -> list[RecordingView]:
    """The call's recordings for a page (`origin_key`: that page as `for=` names it, e.g. `case:12`). An
    answered call whose recording has not been announced yet shows a note too."""
    recordings = recording_repo.for_call(db, call.id)
    if not recordings:
        return [RecordingView(_label(call, None), None, "暂无录音（尚未收到录音）")] if call.answered_at else []
    return [view_of(files, actor, call, recording, origin_key) for recording in recordings]


def view_of(files: RecordingStore, actor: Actor, call: Call, recording: Recording, origin_key: str) -> RecordingView:
    """One recording of the call for a page: its player when the actor may listen, else why not."""
    state = availability(recording, files)
    if state is Availability.PLAYABLE and actor.has(RECORDING_PLAYERS):
        values: dict[str, Any] = {"recording_sid": recording.recording_sid, "for": origin_key}
        return RecordingView(_label(call, recording), url_for("recordings.audio", **values), None)
    if state is Availability.PLAYABLE:
        return RecordingView(_label(call, recording), None, "您的角色无权收听录音")
    if state is Availability.PURGED and recording.purged_at is not None:
        day = recording.purged_at.astimezone(BUSINESS_TZ)
        return RecordingView(_label(call, recording), None, f"录音已过保存期限，于 {day:%Y-%m-%d} 删除")
    return RecordingView(_label(call, recording), None, NOTE_ZH[state])
