"""The recordings desk: `GET /console/recordings/<recording_sid>/audio?for=case:<id>`, the audio a page's
player streams (console/templates/console/recordings/player.html). The compliance pages on the same blueprint:
console/recordings/search.py (search, play, bundles, disputes) and console/recordings/retention.py."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import abort, request, send_file, session
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header
from werkzeug.wrappers import Response

from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.recordings.queries import SEARCH_REASON, BadOrigin, Origin, origin, recording_store
from kit.actor import RECORDING_PLAYERS, Actor
from recordings import snapshots
from recordings.playback import NotPlayable, Playable, note_playback, playable

log = logging.getLogger(__name__)

recordings = desk("recordings", __name__)


def first_byte(size: int) -> int | None:
    """The first byte this response sends: 0 for the whole file (no Range, or an If-Range that send_file
    may answer with the whole file), the start of the range, None for HEAD (no body). Raises
    RequestedRangeNotSatisfiable where send_file would."""
    if request.method == "HEAD":
        return None
    header = request.headers.get("Range")
    if header is None or "If-Range" in request.headers or size == 0:
        return 0
    parsed = parse_range_header(header)
    span = parsed.range_for_length(size) if parsed is not None else None
    if span is None:
        raise RequestedRangeNotSatisfiable(length=size)
    return span[0]


@recordings.get("/recordings/<recording_sid>/audio", endpoint="audio")
def audio(recording_sid: str) -> Response:
    """The stored recording, range requests honoured (206 with Content-Range, Accept-Ranges: bytes; 416 when
    no byte of the range is in the file), private and never cached.

    `for` names the page it is played from (`case:<id>`, `policy:<policy_no>`): the audit trail's why, in the
    actor's scope, and the recording must be of that page's policy; `recordings` (the compliance search): the
    reason the user gave for this session is the why (none given yet: 400). Out of scope, unknown, not stored,
    purged or its file missing: 404. The audit line (one per playback: recordings.playback.note_playback) is
    committed before any audio is sent."""
    ctx = context()
    files = recording_store()
    with unit_of_work() as db:
        actor, where = _reader(db)
        try:
            played = playable(db, files, actor, recording_sid, policy_id=where.policy_id) if where else None
        except NotPlayable:
            played = None
        if where is None or played is None:
            abort(404)
        try:
            start = first_byte(played.size_bytes)
        except RequestedRangeNotSatisfiable:
            return _unsatisfiable(played.size_bytes)
        note_playback(db, actor, played, first_byte=start, reason=where.reason, now=ctx.clock.now(),
                      detail=f"Range {request.headers.get('Range', '(whole file)')}")
        db.commit()  # the audit line is in the trail before the audio leaves
    return _stream(played, files.local_path(played.path))


@recordings.get("/recordings/screens/<int:snapshot_id>", endpoint="screen")
def screen(snapshot_id: int) -> Response:
    """An e-callback's key screen as the applicant saw it (HTML kept write-once with its SHA-256), from the page
    `for` names, in the actor's scope; audited before it is sent. Shown sandboxed: no script, no requests, no
    form posts from it. Unknown, out of scope, purged, another policy's or its file changed: 404."""
    ctx = context()
    files = recording_store()
    with unit_of_work() as db:
        actor, where = _reader(db)
        if where is None or where.policy_id is None:
            abort(404)
        try:
            kept = snapshots.read(db, files, actor, snapshot_id, policy_id=where.policy_id,
                                  reason=where.reason.replace("收听", "查看页面快照"), now=ctx.clock.now())
        except snapshots.NotViewable:
            abort(404)
        db.commit()  # the audit line is in the trail before the screen leaves
    response = Response(kept.body, mimetype=kept.media_type)
    if kept.is_html:
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    else:  # a signed questionnaire's scan (PDF, JPEG or PNG, its type sniffed when it was uploaded)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _reader(db: Session) -> tuple[Actor, Origin | None]:
    """The signed-in reader of recordings and the page `for` names (None: not there for this reader; a
    malformed `for` ends the request with 400)."""
    actor = page_actor(db, RECORDING_PLAYERS)
    try:
        return actor, origin(db, actor, request.args.get("for", ""), session.get(SEARCH_REASON))
    except BadOrigin:
        abort(400)


def _stream(played: Playable, path: Path) -> Response:
    try:
        response = send_file(path, mimetype=played.media_type, conditional=True, etag=True)
    except FileNotFoundError:  # purged, or lost, since the check a moment ago
        log.error("recording %s: its file vanished while it was being played", played.recording_sid)
        abort(404)
    except RequestedRangeNotSatisfiable:  # the file changed size since the check (it never should)
        return _unsatisfiable(played.size_bytes)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: in no shared or disk cache
    return response


def _unsatisfiable(size: int) -> Response:
    return Response(status=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes",
                                         "Cache-Control": "private, no-store"})


from console.recordings import retention, search  # noqa: E402,F401  (their routes, on this blueprint)
